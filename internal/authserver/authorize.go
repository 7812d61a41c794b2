package authserver

import (
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// pendingRequest is an authorization request between /authorize and
// Plannr's callback. It is stored encrypted, keyed by the state sent to
// Plannr, and used once.
type pendingRequest struct {
	ClientID    string `json:"client_id"`
	RedirectURI string `json:"redirect_uri"`
	State       string `json:"state,omitempty"`
	Challenge   string `json:"challenge"`
	Resource    string `json:"resource"`
	Scope       string `json:"scope"`
	// CSRF is the consent form's token.
	CSRF string `json:"csrf"`
	// Browser is the hash of the browser cookie of the browser that
	// started the request: the consent form and the callback must come
	// from the same one.
	Browser string `json:"browser"`
	// Verifier is the PKCE verifier sent (as its challenge) to Plannr.
	Verifier string `json:"verifier"`
	// Approved is set once the person allowed the client.
	Approved bool `json:"approved,omitempty"`
	// RememberedFor is the person whose remembered consent approved it.
	RememberedFor string `json:"remembered_for,omitempty"`
	// UserID is set once Plannr said who signed in, while they choose
	// the account their calls act for.
	UserID string `json:"user_id,omitempty"`
}

// authorize is the authorization endpoint: GET starts a request, POST is
// the consent form's answer.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.startAuthorization(w, r)
	case http.MethodPost:
		s.consent(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
	}
}

// startAuthorization checks an authorization request. Until the client
// and its redirect URI are known good, errors are shown to the person and
// never sent to the redirect URI; after that, they go back to the client.
func (s *Server) startAuthorization(w http.ResponseWriter, r *http.Request) {
	if framed(r) {
		s.page(w, http.StatusForbidden, "This page cannot be shown inside another page.", "")
		return
	}
	q := r.URL.Query()
	for _, single := range []string{"client_id", "redirect_uri", "response_type", "code_challenge", "code_challenge_method", "state", "resource", "scope"} {
		if len(q[single]) > 1 {
			s.page(w, http.StatusBadRequest, "The authorization request repeats the parameter "+single+". Start again from your MCP client.", "")
			return
		}
	}
	ctx := r.Context()
	c, err := s.lookupClient(ctx, q.Get("client_id"))
	if err != nil {
		s.log.Warn("authorization request refused", "reason", err)
		var ce *errClient
		msg := "This server could not check the application that sent you here. Try again later."
		if errors.As(err, &ce) {
			msg = "The application that sent you here is not registered with this server: " + ce.msg + ". Remove plannr-mcp from the application and add it again."
		}
		s.page(w, http.StatusBadRequest, msg, "")
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		s.page(w, http.StatusBadRequest, "The application did not say where to send the answer (redirect_uri). Nothing was done.", "")
		return
	}
	if !slices.Contains(c.redirectURIs, redirect) {
		s.log.Warn("authorization request refused: redirect_uri is not registered", "client", c.id)
		s.page(w, http.StatusBadRequest, "The application asked to send the answer to an address it did not register ("+untrusted.Truncate(untrusted.Text(redirect), 100)+"). Nothing was done.", "")
		return
	}
	back := func(code, desc string) { s.redirectError(w, r, redirect, q.Get("state"), code, desc) }
	switch {
	case q.Get("response_type") != "code":
		back("unsupported_response_type", "use response_type=code")
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		back("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
		return
	case !validChallenge(q.Get("code_challenge")):
		back("invalid_request", "code_challenge must be the base64url SHA-256 of the verifier (RFC 7636)")
		return
	case q.Get("resource") != "" && !s.ourResource(q.Get("resource")):
		back("invalid_target", "this server issues tokens for "+s.resource+" only")
		return
	}
	browser := s.browserCookie(w, r)
	p := pendingRequest{
		ClientID: c.id, RedirectURI: redirect, State: q.Get("state"), Challenge: q.Get("code_challenge"),
		Resource: s.resource, Scope: Scope,
		CSRF: newID(""), Browser: hash(browser), Verifier: oauth2.GenerateVerifier(),
	}
	if user := s.rememberedUser(r); user != "" {
		if ok, err := s.store.Consented(ctx, user, c.id); err == nil && ok {
			p.Approved, p.RememberedFor = true, user
		}
	}
	id := newID("pmcp_req_")
	if err := s.savePending(ctx, id, p); err != nil {
		s.log.Error("saving an authorization request", "error", err)
		s.page(w, http.StatusInternalServerError, "This server could not start the sign-in. Try again in a minute.", "")
		return
	}
	if p.Approved {
		s.toPlannr(w, r, id, p)
		return
	}
	s.consentPage(w, c, p, id)
}

// consent takes the consent form's answer, which must carry the form's
// CSRF token and come from the browser that was shown the form.
func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	if framed(r) {
		s.page(w, http.StatusForbidden, "This page cannot be used inside another page.", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.page(w, http.StatusBadRequest, "The form could not be read. Start again from your MCP client.", "")
		return
	}
	ctx := r.Context()
	id := r.PostForm.Get("request")
	p, err := s.loadPending(ctx, id)
	if err != nil {
		s.page(w, http.StatusBadRequest, "This sign-in has expired or was already finished. Start again from your MCP client.", "")
		return
	}
	cookie, _ := r.Cookie(s.cookieName("browser"))
	csrf := r.PostForm.Get("csrf")
	if csrf == "" || subtle.ConstantTimeCompare([]byte(csrf), []byte(p.CSRF)) != 1 || cookie == nil || hash(cookie.Value) != p.Browser {
		s.log.Warn("consent form refused: missing or wrong CSRF token or browser", "client", p.ClientID)
		s.page(w, http.StatusForbidden, "This answer did not come from the consent page this server showed you, so nothing was done. Start again from your MCP client.", "")
		return
	}
	if p.UserID != "" {
		s.chooseAccount(w, r, id, p)
		return
	}
	if r.PostForm.Get("action") != "allow" {
		if _, err := s.store.TakePending(ctx, id, s.cfg.Now()); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("ending a denied authorization request", "error", err)
		}
		s.redirectError(w, r, p.RedirectURI, p.State, "access_denied", "the person denied the request")
		return
	}
	p.Approved = true
	if err := s.savePending(ctx, id, p); err != nil {
		s.log.Error("saving an authorization request", "error", err)
		s.page(w, http.StatusInternalServerError, "This server could not continue the sign-in. Try again in a minute.", "")
		return
	}
	s.toPlannr(w, r, id, p)
}

// toPlannr sends the browser to Plannr's authorization page, with the
// request's id as state and the S256 challenge of its verifier.
func (s *Server) toPlannr(w http.ResponseWriter, r *http.Request, id string, p pendingRequest) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, s.cfg.Plannr.AuthCodeURL(id, p.Verifier), http.StatusSeeOther)
}

func (s *Server) savePending(ctx context.Context, id string, p pendingRequest) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.store.PutPending(ctx, id, data, s.cfg.Now().Add(pendingTTL))
}

func (s *Server) loadPending(ctx context.Context, id string) (pendingRequest, error) {
	var p pendingRequest
	if id == "" {
		return p, store.ErrNotFound
	}
	data, err := s.store.Pending(ctx, id, s.cfg.Now())
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal(data, &p)
}

// redirectError sends the browser back to the client with an error.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, redirect, state, code, desc string) {
	s.log.Info("authorization request answered with an error", "error", code)
	s.redirectBack(w, r, redirect, url.Values{"error": {code}, "error_description": {desc}}, state)
}

// redirectBack sends the browser to the client's redirect URI with values,
// the state and the issuer (RFC 9207).
func (s *Server) redirectBack(w http.ResponseWriter, r *http.Request, redirect string, values url.Values, state string) {
	u, err := url.Parse(redirect)
	if err != nil {
		s.page(w, http.StatusBadRequest, "The application's redirect address is unusable.", "")
		return
	}
	q := u.Query()
	for k, v := range values {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", s.issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// validChallenge checks RFC 7636's form of an S256 challenge.
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == 32
}

// framed reports a request a browser makes to fill a frame: the page is
// never shown there (and its headers forbid framing besides).
func framed(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Dest") {
	case "iframe", "frame", "embed", "object", "fencedframe":
		return true
	}
	return false
}

// cookieName is a cookie's name: __Host- prefixed (Secure, Path=/, no
// Domain) when the public URL is https, as browsers require for the prefix.
func (s *Server) cookieName(name string) string {
	if s.secure {
		return "__Host-plannr-mcp-" + name
	}
	return "plannr-mcp-" + name
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(name), Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		Secure: s.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// browserCookie returns the browser's binding cookie, setting a new one
// when it has none. Lax, so that it comes back with Plannr's redirect.
func (s *Server) browserCookie(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.cookieName("browser")); err == nil && len(c.Value) >= 26 && len(c.Value) <= 64 {
		return c.Value
	}
	v := newID("")
	s.setCookie(w, "browser", v, pendingTTL+time.Minute)
	return v
}

// rememberUser sets the signed cookie naming the person who signed in, so
// that a later authorization of a client they allowed skips the consent page.
func (s *Server) rememberUser(w http.ResponseWriter, userID string) {
	exp := strconv.FormatInt(s.cfg.Now().Add(userCookieTTL).Unix(), 10)
	sig := base64.RawURLEncoding.EncodeToString(s.cfg.Keys.MAC("user cookie", []byte(userID+"|"+exp)))
	s.setCookie(w, "user", userID+"."+exp+"."+sig, userCookieTTL)
}

// rememberedUser returns the person the signed cookie names, if valid.
func (s *Server) rememberedUser(r *http.Request) string {
	c, err := r.Cookie(s.cookieName("user"))
	if err != nil {
		return ""
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return ""
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || err2 != nil || !s.cfg.Now().Before(time.Unix(exp, 0)) ||
		!hmac.Equal(sig, s.cfg.Keys.MAC("user cookie", []byte(parts[0]+"|"+parts[1]))) {
		return ""
	}
	return parts[0]
}
