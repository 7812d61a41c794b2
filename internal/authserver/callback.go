package authserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/peruser"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// callback is Plannr's redirect back: it checks that the browser is the
// one that started the request, exchanges Plannr's code, learns who the
// person is, stores their Plannr tokens and completes the MCP client's
// authorization with a code of this server's own.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	id := q.Get("state")
	p, err := s.loadPending(ctx, id)
	if err != nil {
		s.page(w, http.StatusBadRequest, "This sign-in has expired or was already finished. Start again from your MCP client.", "")
		return
	}
	cookie, _ := r.Cookie(s.cookieName("browser"))
	if cookie == nil || hash(cookie.Value) != p.Browser || !p.Approved {
		s.log.Warn("Plannr callback refused: it came back to another browser, or before consent", "client", p.ClientID)
		s.cfg.OnSignIn(SignInRefused)
		s.page(w, http.StatusForbidden, "This sign-in was started in another browser, so nothing was done. Start again from your MCP client, in this browser.", "")
		return
	}
	now := s.cfg.Now()
	if _, err := s.store.TakePending(ctx, id, now); err != nil {
		s.page(w, http.StatusBadRequest, "This sign-in was already finished. Start again from your MCP client.", "")
		return
	}
	if e := q.Get("error"); e != "" {
		s.log.Info("Plannr did not authorize the sign-in", "error", untrusted.Truncate(untrusted.Text(s.cfg.Secrets.RedactString(e)), 60))
		s.cfg.OnSignIn(SignInDenied)
		s.redirectError(w, r, p.RedirectURI, p.State, "access_denied", "Plannr did not authorize the sign-in")
		return
	}
	code := q.Get("code")
	if code == "" {
		s.cfg.OnSignIn(SignInFailed)
		s.redirectError(w, r, p.RedirectURI, p.State, "server_error", "Plannr's answer carried no authorization code")
		return
	}
	rec, err := s.cfg.Plannr.Exchange(ctx, code, p.Verifier)
	if err != nil {
		s.log.Warn("the sign-in with Plannr failed", "error", err)
		s.cfg.OnSignIn(SignInFailed)
		s.redirectError(w, r, p.RedirectURI, p.State, "server_error", "the sign-in with Plannr failed; try again")
		return
	}
	if rec.User == nil || rec.User.Email == "" {
		s.log.Warn("Plannr did not say who signed in; refusing the sign-in")
		s.cfg.OnSignIn(SignInFailed)
		s.redirectError(w, r, p.RedirectURI, p.State, "access_denied", "Plannr did not say who signed in")
		return
	}
	profile, _ := json.Marshal(rec.User)
	account := rec.User.PreferredAccountUUID
	if account == "" && len(rec.User.Accounts) > 0 {
		account = rec.User.Accounts[0].UUID
	}
	u, err := s.store.SaveUser(ctx, store.User{Email: rec.User.Email, Profile: profile, AccountUUID: account, SignedInAt: now})
	if err != nil {
		s.cfg.OnSignIn(SignInFailed)
		s.serverPage(w, "recording who signed in", err)
		return
	}
	if p.RememberedFor != "" && p.RememberedFor != u.ID {
		if ok, err := s.store.Consented(ctx, u.ID, p.ClientID); err != nil || !ok {
			s.setCookie(w, "user", "", -1)
			s.cfg.OnSignIn(SignInRefused)
			s.page(w, http.StatusForbidden, "You signed in to Plannr as "+untrusted.Text(u.Email)+", who has not allowed this application yet, so nothing was done. Start again from your MCP client to be asked.", "")
			return
		}
	}
	if err := peruser.SaveLogin(ctx, s.store, u.ID, rec); err != nil {
		s.cfg.OnSignIn(SignInFailed)
		s.serverPage(w, "saving the Plannr tokens", err)
		return
	}
	if err := s.store.PutConsent(ctx, u.ID, p.ClientID, now); err != nil {
		s.cfg.OnSignIn(SignInFailed)
		s.serverPage(w, "recording the consent", err)
		return
	}
	s.rememberUser(w, u.ID)
	s.log.Info("signed in with Plannr", "user", u.ID, "client", p.ClientID)
	s.cfg.OnSignIn(SignInSucceeded)
	if p.RememberedFor == "" && len(rec.User.Accounts) > 1 {
		// The person chooses the account their calls act for; a client
		// they allowed before keeps the account they chose then.
		p.UserID, p.CSRF = u.ID, newID("")
		next := newID("pmcp_req_")
		if err := s.savePending(ctx, next, p); err != nil {
			s.serverPage(w, "saving an authorization request", err)
			return
		}
		s.accountPage(ctx, w, p, next, rec.User, u.AccountUUID)
		return
	}
	s.issueCode(w, r, p, u.ID)
}

// issueCode completes the client's authorization with a code of this
// server's own.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, p pendingRequest, userID string) {
	value := newValue(prefixCode)
	if err := s.store.PutCode(r.Context(), store.Code{
		Hash: hash(value), ClientID: p.ClientID, UserID: userID, RedirectURI: p.RedirectURI, Challenge: p.Challenge,
		Resource: p.Resource, Scope: p.Scope, FamilyID: newID("pmcp_fam_"), ExpiresAt: s.cfg.Now().Add(codeTTL),
	}); err != nil {
		s.serverPage(w, "saving the authorization code", err)
		return
	}
	s.redirectBack(w, r, p.RedirectURI, url.Values{"code": {value}}, p.State)
}

// chooseAccount takes the account page's answer: one of the person's
// accounts, as Plannr listed them at sign-in.
func (s *Server) chooseAccount(w http.ResponseWriter, r *http.Request, id string, p pendingRequest) {
	ctx := r.Context()
	u, err := s.store.User(ctx, p.UserID)
	if err != nil {
		s.serverPage(w, "reading who signed in", err)
		return
	}
	var profile auth.User
	_ = json.Unmarshal(u.Profile, &profile)
	chosen := r.PostForm.Get("account")
	if !slices.ContainsFunc(profile.Accounts, func(a auth.Account) bool { return a.UUID == chosen }) {
		s.page(w, http.StatusBadRequest, "Choose one of the accounts the page listed. Go back and try again.", "")
		return
	}
	if _, err := s.store.TakePending(ctx, id, s.cfg.Now()); err != nil {
		s.page(w, http.StatusBadRequest, "This sign-in was already finished. Start again from your MCP client.", "")
		return
	}
	if err := s.store.SetAccount(ctx, u.ID, chosen); err != nil {
		s.serverPage(w, "saving the chosen account", err)
		return
	}
	s.issueCode(w, r, p, u.ID)
}

// serverPage shows the person that something failed on the server.
func (s *Server) serverPage(w http.ResponseWriter, doing string, err error) {
	if !errors.Is(err, store.ErrNotFound) {
		s.log.Error("authorization server: "+doing, "error", err)
	}
	s.page(w, http.StatusInternalServerError, "This server could not finish the sign-in. Try again in a minute.", "")
}
