package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// This file is the fake's OAuth2 authorization server. It behaves as Plannr's
// Laravel Passport does where that matters to a client: the authorization
// code grant with PKCE, refresh-token rotation that revokes the old pair,
// and Passport's error bodies. Its authorize endpoint approves at once and
// redirects straight back, so tests can play the browser with an HTTP client.

// Default lifetimes of the tokens the fake issues.
const (
	// DefaultAccessTokenLifetime is how long an access token lasts unless
	// WithTokenLifetimes says otherwise.
	DefaultAccessTokenLifetime = time.Hour
	// DefaultRefreshTokenLifetime is six months, as at Plannr.
	DefaultRefreshTokenLifetime = 182 * 24 * time.Hour
	// authCodeLifetime is how long an authorization code can be exchanged.
	authCodeLifetime = 10 * time.Minute
)

// OAuthClient is an OAuth2 client registered with the fake.
type OAuthClient struct {
	// ID is the client id.
	ID string
	// Secret is the client secret.
	Secret string
	// RedirectURIs are the registered redirect URLs; only these are accepted,
	// compared exactly.
	RedirectURIs []string
}

// RefreshErrorStyle selects which of Passport's two answers the fake gives
// when a refresh token is revoked, already used, expired or unknown.
type RefreshErrorStyle int

const (
	// RefreshInvalidRequest answers 401 with error "invalid_request", as
	// newer Passport versions do.
	RefreshInvalidRequest RefreshErrorStyle = iota
	// RefreshInvalidGrant answers 400 with error "invalid_grant", as older
	// Passport versions do.
	RefreshInvalidGrant
)

// OAuthStats counts what the fake's OAuth2 endpoints did.
type OAuthStats struct {
	// Authorizations counts codes issued by /oauth/authorize.
	Authorizations int
	// CodeExchanges counts successful authorization_code grants.
	CodeExchanges int
	// Refreshes counts successful refresh_token grants.
	Refreshes int
	// RefreshRejected counts refresh_token grants refused because the
	// refresh token was revoked, already used, expired, unknown or another
	// client's.
	RefreshRejected int
	// RefreshReused counts, among RefreshRejected, refresh tokens that had
	// already been used once: what happens when two processes refresh at once.
	RefreshReused int
	// ClientRejected counts requests refused with invalid_client.
	ClientRejected int
	// GrantRejected counts other refused token requests: a bad or reused
	// code, a failed PKCE check, a redirect URL mismatch, a missing parameter.
	GrantRejected int
}

// RefreshEvent is one successful refresh.
type RefreshEvent struct {
	// At is when it happened, by the fake's clock.
	At time.Time
	// OldAccessExpiry is when the access token issued together with the
	// used refresh token expired (or would have).
	OldAccessExpiry time.Time
}

// WithOAuthClient registers an OAuth2 client with the fake's authorization server.
func WithOAuthClient(c OAuthClient) Option {
	return func(s *Server) {
		if s.oauth.clients == nil {
			s.oauth.clients = map[string]OAuthClient{}
		}
		c.RedirectURIs = slices.Clone(c.RedirectURIs)
		s.oauth.clients[c.ID] = c
	}
}

// WithTokenLifetimes sets how long the access and refresh tokens the fake
// issues last; zero keeps the default. expires_in is sent in whole seconds,
// so use at least a second.
func WithTokenLifetimes(access, refresh time.Duration) Option {
	return func(s *Server) {
		s.oauth.accessLifetime = access
		s.oauth.refreshLifetime = refresh
	}
}

// WithRefreshErrorStyle selects Passport's answer to an unusable refresh token.
func WithRefreshErrorStyle(style RefreshErrorStyle) Option {
	return func(s *Server) { s.oauth.style = style }
}

// oauthServer is the fake's OAuth2 state. Its zero value has no clients.
type oauthServer struct {
	mu              sync.Mutex
	loginPage       bool
	pageNonces      map[string]time.Time // of login pages shown, until used or expired
	clients         map[string]OAuthClient
	accessLifetime  time.Duration
	refreshLifetime time.Duration
	style           RefreshErrorStyle
	codes           map[string]*authCode
	access          map[string]*issuedAccess
	refresh         map[string]*issuedRefresh
	stats           OAuthStats
	events          []RefreshEvent
}

type authCode struct {
	user        string
	clientID    string
	redirectURI string
	challenge   string
	expires     time.Time
	used        bool
}

type issuedAccess struct {
	user    string // e-mail address of the person it acts for
	expires time.Time
	revoked bool
}

type issuedRefresh struct {
	clientID string
	user     string
	access   string
	expires  time.Time
	revoked  bool
	used     bool
}

// Passport's descriptions, quoted from league/oauth2-server.
const (
	descInvalidClient  = "Client authentication failed"
	descInvalidRequest = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed."
	descInvalidGrant   = "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
	descInvalidRefresh = "The refresh token is invalid."
	descUnsupported    = "The authorization grant type is not supported by the authorization server."
)

// serveOAuth answers /oauth/... requests, which carry no bearer token.
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request, body []byte) {
	switch r.URL.Path {
	case "/oauth/authorize":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.authorize(w, r)
		case http.MethodPost:
			if s.oauth.loginPage {
				s.signIn(w, r, body)
				return
			}
			fallthrough
		default:
			writeJSON(w, http.StatusMethodNotAllowed, message(fmt.Sprintf(
				"The %s method is not supported for route oauth/authorize. Supported methods: GET, HEAD, POST.", r.Method)))
		}
	case "/oauth/token":
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, message(fmt.Sprintf(
				"The %s method is not supported for route oauth/token. Supported methods: POST.", r.Method)))
			return
		}
		s.token(w, r, body)
	default:
		writeJSON(w, http.StatusNotFound, message(fmt.Sprintf("The route %s could not be found.", strings.TrimPrefix(r.URL.Path, "/"))))
	}
}

// authRequest is an authorization request that passed Passport's checks.
type authRequest struct {
	clientID    string
	redirectURI string
	challenge   string
	state       string
}

// checkAuthRequest makes the checks Passport makes before it shows its
// approval page, and answers the error itself when one fails. The caller
// holds o.mu.
func (s *Server) checkAuthRequest(w http.ResponseWriter, q url.Values) (authRequest, bool) {
	o := &s.oauth
	client, ok := o.clients[q.Get("client_id")]
	if !ok || !slices.Contains(client.RedirectURIs, q.Get("redirect_uri")) {
		// Passport refuses an unknown client or an unregistered redirect URL
		// without redirecting anywhere.
		o.stats.ClientRejected++
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", descInvalidClient, "", true)
		return authRequest{}, false
	}
	if q.Get("response_type") != "code" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_response_type",
			"The authorization server does not support obtaining an authorization code using this method.", "", true)
		return authRequest{}, false
	}
	challenge := q.Get("code_challenge")
	if challenge == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descInvalidRequest,
			"Check the `code_challenge` parameter (the fake requires PKCE)", true)
		return authRequest{}, false
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		// Passport takes a missing method to mean "plain"; the fake refuses
		// anything but S256 so that a client that forgets to say S256 fails.
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descInvalidRequest,
			fmt.Sprintf("Code challenge method must be S256, got %q", m), true)
		return authRequest{}, false
	}
	if !validChallenge(challenge) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descInvalidRequest,
			"Code challenge must follow the specifications of RFC-7636.", true)
		return authRequest{}, false
	}
	if _, err := url.Parse(q.Get("redirect_uri")); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descInvalidRequest, "Invalid redirect URI", true)
		return authRequest{}, false
	}
	return authRequest{clientID: client.ID, redirectURI: q.Get("redirect_uri"), challenge: challenge, state: q.Get("state")}, true
}

// authorize checks the request, then approves it at once for the owner,
// or, with WithLoginPage, shows the page where a person signs in.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	o := &s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	req, ok := s.checkAuthRequest(w, r.URL.Query())
	if !ok {
		return
	}
	if o.loginPage {
		s.showLoginPage(w, r.URL.Query(), "")
		return
	}
	s.approveLocked(w, r, req, s.owner.email)
}

// approveLocked issues a code for user and sends the browser back to the
// client with it; the caller holds o.mu.
func (s *Server) approveLocked(w http.ResponseWriter, r *http.Request, req authRequest, user string) {
	o := &s.oauth
	code := randomToken("code")
	if o.codes == nil {
		o.codes = map[string]*authCode{}
	}
	o.codes[code] = &authCode{
		user:        user,
		clientID:    req.clientID,
		redirectURI: req.redirectURI,
		challenge:   req.challenge,
		expires:     s.now().Add(authCodeLifetime),
	}
	o.stats.Authorizations++
	redirectBack(w, r, req, url.Values{"code": {code}})
}

// redirectBack sends the browser to the client's redirect URI with values
// and the request's state.
func redirectBack(w http.ResponseWriter, r *http.Request, req authRequest, values url.Values) {
	target, _ := url.Parse(req.redirectURI) // checked by checkAuthRequest
	q := target.Query()
	for k, v := range values {
		q[k] = v
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// validChallenge checks RFC 7636's form of an S256 challenge: base64url of a
// SHA-256 digest, without padding.
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// bearer returns the person a bearer token acts for: the owner for a
// configured token, the signed-in user for an unexpired, unrevoked OAuth2
// access token; nil for any other token.
func (s *Server) bearer(token string) *person {
	if s.tokens[token] {
		return s.owner
	}
	o := &s.oauth
	o.mu.Lock()
	at, ok := o.access[token]
	valid := ok && !at.revoked && s.now().Before(at.expires)
	o.mu.Unlock()
	if !valid {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.people[at.user]
}

// IssueOAuthTokens issues an access and refresh token to a registered
// client as if its user had just logged in, for tests that need a login
// without playing the browser.
func (s *Server) IssueOAuthTokens(clientID string) (access, refresh string, expiresIn time.Duration, err error) {
	o := &s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.clients[clientID]; !ok {
		return "", "", 0, fmt.Errorf("plannrtest: no OAuth client %q is registered", clientID)
	}
	pair := s.issueLocked(clientID, s.owner.email)
	return pair["access_token"].(string), pair["refresh_token"].(string), time.Duration(pair["expires_in"].(int)) * time.Second, nil
}

// OAuthStats returns what the OAuth2 endpoints have done so far.
func (s *Server) OAuthStats() OAuthStats {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	return s.oauth.stats
}

// RefreshEvents returns every successful refresh so far, oldest first.
func (s *Server) RefreshEvents() []RefreshEvent {
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	return slices.Clone(s.oauth.events)
}

// ActiveRefreshTokens returns the refresh tokens that are neither used,
// revoked nor expired, sorted. After a run of rotations there is one per login.
func (s *Server) ActiveRefreshTokens() []string {
	o := &s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	now := s.now()
	var out []string
	for token, rt := range o.refresh {
		if !rt.revoked && now.Before(rt.expires) {
			out = append(out, token)
		}
	}
	slices.Sort(out)
	return out
}

// RevokeOAuthAccessTokens revokes every issued access token before its
// expiry, as Plannr may do; refresh tokens stay usable. It returns how many
// were revoked.
func (s *Server) RevokeOAuthAccessTokens() int {
	o := &s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, at := range o.access {
		if !at.revoked {
			at.revoked = true
			n++
		}
	}
	return n
}

// RevokeOAuthTokens revokes every issued access and refresh token, as when
// a person withdraws the integration's access: the next refresh fails and
// the person must log in again.
func (s *Server) RevokeOAuthTokens() {
	o := &s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, at := range o.access {
		at.revoked = true
	}
	for _, rt := range o.refresh {
		rt.revoked = true
	}
}

// writeOAuthError answers with Passport's error body. Newer Passport adds
// "message" (a copy of the description); withMessage selects that shape.
func writeOAuthError(w http.ResponseWriter, status int, code, desc, hint string, withMessage bool) {
	body := map[string]any{"error": code, "error_description": desc}
	if hint != "" {
		body["hint"] = hint
	}
	if withMessage {
		body["message"] = desc
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="OAuth"`)
	}
	writeJSON(w, status, body)
}

// randomToken returns an unguessable token with a readable prefix.
func randomToken(kind string) string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "fake-" + kind + "-" + hex.EncodeToString(b)
}
