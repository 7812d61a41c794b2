package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/plannr-mcp/plannr-mcp/internal/store"
)

// maxFormBytes bounds a token, revocation or consent request's body.
const maxFormBytes = 64 << 10

// readForm parses a form-encoded POST body of bounded size.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return nil, false
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "send the parameters as application/x-www-form-urlencoded")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the form could not be read")
		return nil, false
	}
	for _, single := range []string{"grant_type", "code", "code_verifier", "redirect_uri", "refresh_token", "client_id", "client_secret", "token", "resource"} {
		if len(r.PostForm[single]) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+single+" is repeated")
			return nil, false
		}
	}
	return r.PostForm, true
}

// authenticateClient identifies the client of a token or revocation
// request: client_id alone for a public client, with its secret (in the
// form or as HTTP Basic) for a confidential one.
func (s *Server) authenticateClient(ctx context.Context, w http.ResponseWriter, r *http.Request, form url.Values) (*client, bool) {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		if id != "" && id != u {
			oauthError(w, http.StatusBadRequest, "invalid_request", "client_id differs from the HTTP Basic user")
			return nil, false
		}
		uid, err1 := url.QueryUnescape(u)
		pw, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "the HTTP Basic credentials could not be read")
			return nil, false
		}
		id, secret = uid, pw
	}
	if id == "" {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "no client_id: register first, or use your client's metadata document URL as client_id")
		return nil, false
	}
	c, err := s.lookupClient(ctx, id)
	if err != nil {
		s.log.Warn("token request from an unknown client", "reason", err)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client: register again")
		return nil, false
	}
	if c.secretHash != "" {
		sum := sha256.Sum256([]byte(secret))
		want, _ := base64.RawURLEncoding.DecodeString(c.secretHash)
		if secret == "" || subtle.ConstantTimeCompare(sum[:], want) != 1 {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return nil, false
		}
	}
	return c, true
}

// clientForm reads the form of a request to the token or revocation
// endpoint and authenticates the client that sent it. When it returns false
// it has answered the request.
func (s *Server) clientForm(ctx context.Context, w http.ResponseWriter, r *http.Request) (url.Values, *client, bool) {
	form, ok := readForm(w, r)
	if !ok {
		return nil, nil, false
	}
	c, ok := s.authenticateClient(ctx, w, r, form)
	if !ok {
		return nil, nil, false
	}
	return form, c, true
}

// token is the token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, c, ok := s.clientForm(ctx, w, r)
	if !ok {
		return
	}
	if res := form.Get("resource"); res != "" && !s.ourResource(res) {
		oauthError(w, http.StatusBadRequest, "invalid_target", "this server issues tokens for "+s.resource+" only")
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		s.codeGrant(ctx, w, c, form)
	case "refresh_token":
		s.refreshGrant(ctx, w, c, form)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "use authorization_code or refresh_token")
	}
}

// codeGrant exchanges an authorization code. A code is claimed before it
// is checked, so that a failed check spends it too; a code presented again
// revokes what was issued from it.
func (s *Server) codeGrant(ctx context.Context, w http.ResponseWriter, c *client, form url.Values) {
	value, verifier := form.Get("code"), form.Get("code_verifier")
	if value == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "code is missing")
		return
	}
	if verifier == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "code_verifier is missing: PKCE is required")
		return
	}
	now := s.cfg.Now()
	code, err := s.store.UseCode(ctx, hash(value), now)
	switch {
	case errors.Is(err, store.ErrUsed):
		if rerr := s.store.RevokeFamily(ctx, code.FamilyID, now); rerr != nil {
			s.log.Error("revoking the tokens of a replayed authorization code", "error", rerr)
		}
		s.log.Warn("an authorization code was presented twice; the tokens issued from it are revoked", "client", c.id)
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the authorization code was already used; tokens issued from it are revoked")
		return
	case errors.Is(err, store.ErrNotFound):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the authorization code is unknown or expired")
		return
	case err != nil:
		s.serverError(w, "using an authorization code", err)
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	switch {
	case code.ClientID != c.id:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the authorization code was issued to another client")
	case form.Get("redirect_uri") != code.RedirectURI:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request's")
	case subtle.ConstantTimeCompare([]byte(challenge), []byte(code.Challenge)) != 1:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code challenge")
	default:
		fam := store.Family{ID: code.FamilyID, UserID: code.UserID, ClientID: c.id, Resource: code.Resource, Scope: code.Scope, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
		if err := s.store.PutFamily(ctx, fam); err != nil {
			s.serverError(w, "starting a token family", err)
			return
		}
		s.issue(ctx, w, fam)
		s.log.Info("issued MCP tokens", "client", c.id, "user", code.UserID)
	}
}

// refreshGrant rotates a refresh token. One presented a second time means
// two parties hold it: the whole family is revoked.
func (s *Server) refreshGrant(ctx context.Context, w http.ResponseWriter, c *client, form url.Values) {
	value := form.Get("refresh_token")
	if value == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "refresh_token is missing")
		return
	}
	now := s.cfg.Now()
	tok, fam, err := s.store.UseRefresh(ctx, hash(value), now)
	switch {
	case errors.Is(err, store.ErrUsed):
		if fam.RevokedAt.IsZero() {
			if rerr := s.store.RevokeFamily(ctx, fam.ID, now); rerr != nil {
				s.log.Error("revoking a token family after refresh-token reuse", "error", rerr)
			}
			s.log.Warn("a refresh token was used twice; its whole family is revoked", "client", fam.ClientID, "user", fam.UserID)
		}
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was already used; every token of this grant is revoked: authorize again")
		return
	case errors.Is(err, store.ErrNotFound):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is unknown or expired: authorize again")
		return
	case err != nil:
		s.serverError(w, "using a refresh token", err)
		return
	}
	switch {
	case fam.ClientID != c.id:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was issued to another client")
	case !fam.RevokedAt.IsZero():
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the grant was revoked: authorize again")
	case !now.Before(tok.ExpiresAt):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token has expired: authorize again")
	default:
		fam.ExpiresAt = now.Add(s.cfg.RefreshTTL)
		if err := s.store.PutFamily(ctx, fam); err != nil {
			s.serverError(w, "extending a token family", err)
			return
		}
		s.issue(ctx, w, fam)
	}
}

// issue answers with a new access and refresh token of fam.
func (s *Server) issue(ctx context.Context, w http.ResponseWriter, fam store.Family) {
	now := s.cfg.Now()
	access, refresh := newValue(prefixAccess), newValue(prefixRefresh)
	for _, t := range []store.Token{
		{Hash: hash(access), FamilyID: fam.ID, Kind: store.AccessToken, ExpiresAt: now.Add(s.cfg.AccessTTL)},
		{Hash: hash(refresh), FamilyID: fam.ID, Kind: store.RefreshToken, ExpiresAt: fam.ExpiresAt},
	} {
		if err := s.store.PutToken(ctx, t); err != nil {
			s.serverError(w, "saving a token", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  access,
		"token_type":    "Bearer",
		"expires_in":    int(s.cfg.AccessTTL.Seconds()),
		"refresh_token": refresh,
		"scope":         fam.Scope,
	})
}

// revoke is RFC 7009's endpoint: it revokes the grant a token of the
// client belongs to, and answers 200 whatever the token was.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, c, ok := s.clientForm(ctx, w, r)
	if !ok {
		return
	}
	value := form.Get("token")
	if value == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is missing")
		return
	}
	_, fam, err := s.store.Token(ctx, hash(value))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.serverError(w, "revoking a token", err)
		return
	case fam.ClientID == c.id:
		if err := s.store.RevokeFamily(ctx, fam.ID, s.cfg.Now()); err != nil {
			s.serverError(w, "revoking a token", err)
			return
		}
		s.log.Info("revoked a grant at the client's request", "client", c.id, "user", fam.UserID)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// serverError answers 500 and logs why.
func (s *Server) serverError(w http.ResponseWriter, doing string, err error) {
	s.log.Error("authorization server: "+doing, "error", err)
	oauthError(w, http.StatusInternalServerError, "server_error", "the server could not complete the request; try again")
}

// ourResource reports whether a resource indicator names this server's
// MCP endpoint.
func (s *Server) ourResource(res string) bool {
	u, err := url.Parse(res)
	if err != nil || u.Fragment != "" {
		return false
	}
	return strings.EqualFold(u.Scheme+"://"+u.Host, s.issuer) && trimSlash(u.Path) == s.cfg.Endpoint
}

func trimSlash(p string) string {
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}
