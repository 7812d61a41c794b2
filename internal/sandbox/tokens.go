package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"time"
)

// The fake Passport's token endpoint: the grants, and the tokens it issues.

// token is the token endpoint: authorization_code and refresh_token grants.
func (s *Server) token(w http.ResponseWriter, r *http.Request, body []byte) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descInvalidRequest,
			"The token endpoint takes application/x-www-form-urlencoded", true)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descInvalidRequest, "Malformed form body", true)
		return
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	o := &s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	client, ok := o.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(client.Secret), []byte(secret)) != 1 {
		o.stats.ClientRejected++
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", descInvalidClient, "", true)
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		s.exchangeCode(w, client, form)
	case "refresh_token":
		s.refreshGrant(w, client, form)
	default:
		o.stats.GrantRejected++
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", descUnsupported,
			"Check that all required parameters have been provided", true)
	}
}

// exchangeCode answers an authorization_code grant; the caller holds o.mu.
func (s *Server) exchangeCode(w http.ResponseWriter, client OAuthClient, form url.Values) {
	o := &s.oauth
	reject := func(status int, code, desc, hint string) {
		o.stats.GrantRejected++
		writeOAuthError(w, status, code, desc, hint, true)
	}
	c, ok := o.codes[form.Get("code")]
	switch {
	case form.Get("code") == "":
		reject(http.StatusBadRequest, "invalid_request", descInvalidRequest, "Check the `code` parameter")
		return
	case !ok:
		reject(http.StatusBadRequest, "invalid_request", descInvalidRequest, "Cannot decrypt the authorization code")
		return
	case c.clientID != client.ID:
		reject(http.StatusBadRequest, "invalid_request", descInvalidRequest, "Authorization code was not issued to this client")
		return
	case c.used:
		reject(http.StatusBadRequest, "invalid_grant", descInvalidGrant, "Authorization code has been revoked")
		return
	case !s.now().Before(c.expires):
		reject(http.StatusBadRequest, "invalid_grant", descInvalidGrant, "Authorization code has expired")
		return
	case form.Get("redirect_uri") != c.redirectURI:
		reject(http.StatusBadRequest, "invalid_request", descInvalidRequest, "Invalid redirect URI")
		return
	case form.Get("code_verifier") == "":
		reject(http.StatusBadRequest, "invalid_request", descInvalidRequest, "Check the `code_verifier` parameter")
		return
	}
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		reject(http.StatusBadRequest, "invalid_grant", descInvalidGrant, "Failed to verify `code_verifier`.")
		return
	}
	c.used = true
	o.stats.CodeExchanges++
	writeJSON(w, http.StatusOK, s.issueLocked(client.ID, c.user))
}

// refreshGrant answers a refresh_token grant with a new pair and revokes the
// old one; the caller holds o.mu.
func (s *Server) refreshGrant(w http.ResponseWriter, client OAuthClient, form url.Values) {
	o := &s.oauth
	now := s.now()
	rt, ok := o.refresh[form.Get("refresh_token")]
	hint := ""
	switch {
	case form.Get("refresh_token") == "":
		o.stats.GrantRejected++
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descInvalidRequest, "Check the `refresh_token` parameter", true)
		return
	case !ok:
		hint = "Cannot decrypt the refresh token"
	case rt.clientID != client.ID:
		hint = "Token is not linked to client"
	case rt.revoked:
		hint = "Token has been revoked"
	case !now.Before(rt.expires):
		hint = "Token has expired"
	}
	if hint != "" {
		o.stats.RefreshRejected++
		if ok && rt.used {
			o.stats.RefreshReused++
		}
		if o.style == RefreshInvalidGrant {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", descInvalidRefresh, hint, false)
		} else {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_request", descInvalidRefresh, hint, true)
		}
		return
	}
	rt.used, rt.revoked = true, true
	event := RefreshEvent{At: now}
	if at, ok := o.access[rt.access]; ok {
		at.revoked = true
		event.OldAccessExpiry = at.expires
	}
	o.stats.Refreshes++
	o.events = append(o.events, event)
	writeJSON(w, http.StatusOK, s.issueLocked(client.ID, rt.user))
}

// issueLocked issues a new access and refresh token acting for user; the
// caller holds o.mu.
func (s *Server) issueLocked(clientID, user string) map[string]any {
	o := &s.oauth
	now := s.now()
	accessLife, refreshLife := o.accessLifetime, o.refreshLifetime
	if accessLife <= 0 {
		accessLife = DefaultAccessTokenLifetime
	}
	if refreshLife <= 0 {
		refreshLife = DefaultRefreshTokenLifetime
	}
	if o.access == nil {
		o.access = map[string]*issuedAccess{}
		o.refresh = map[string]*issuedRefresh{}
	}
	access, refresh := randomToken("access"), randomToken("refresh")
	o.access[access] = &issuedAccess{user: user, expires: now.Add(accessLife)}
	o.refresh[refresh] = &issuedRefresh{clientID: clientID, user: user, access: access, expires: now.Add(refreshLife)}
	return map[string]any{
		"token_type":    "Bearer",
		"expires_in":    max(1, int(accessLife/time.Second)),
		"access_token":  access,
		"refresh_token": refresh,
	}
}
