package sandbox

import (
	"crypto/subtle"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// This file is the fake's sign-in page: with WithLoginPage, Passport's
// authorize endpoint asks a person to sign in and approve, as Plannr does,
// instead of approving at once. It lets a person try plannr-mcp's OAuth2
// login in a browser without a Plannr account.

// The sandbox's demo OAuth2 client, which anyone may use against the fake:
// these are published values, not secrets.
const (
	// DemoClientID is the demo client's id.
	DemoClientID = "plannr-mcp-sandbox"
	// DemoClientSecret is the demo client's secret.
	DemoClientSecret = "plannr-mcp-sandbox-secret"
	// DemoPassword is every demo user's password.
	DemoPassword = "sandbox"
	// OwnerEmail is the person the fake's static tokens act as, and the
	// first demo user.
	OwnerEmail = "adviser@harbourwealth.example"
	// SecondUserEmail is a second demo user, who sees other connections.
	SecondUserEmail = "paraplanner@harbourwealth.example"
)

// DemoRedirectURIs are the redirect URLs the demo client accepts:
// plannr-mcp login's default, in both loopback spellings.
func DemoRedirectURIs() []string {
	return []string{"http://127.0.0.1:8765/callback", "http://localhost:8765/callback"}
}

// DemoClient is the sandbox's demo OAuth2 client, accepting DemoRedirectURIs
// and the extra redirect URLs given.
func DemoClient(extraRedirects ...string) OAuthClient {
	return OAuthClient{ID: DemoClientID, Secret: DemoClientSecret, RedirectURIs: append(DemoRedirectURIs(), extraRedirects...)}
}

// User is a person who can sign in to the fake, with what they see.
type User struct {
	// Email and Password are what the person types on the sign-in page.
	Email    string
	Password string
	// Accounts are the accounts the person can act for.
	Accounts []Account
	// Connections are the person's own connections.
	Connections []Record
}

// SecondUser is the second demo user: another account of the same firm,
// with connections of its own.
func SecondUser(now time.Time) User {
	conns := SampleConnections(now)[:3]
	ids := []string{"b1f0c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "c2e1d3f4-5a6b-4c7d-9e8f-0a1b2c3d4e5f", "d3f2e4a5-6b7c-4d8e-af90-1b2c3d4e5f6a"}
	labels := []string{"Paraplanning - Fundment", "Paraplanning - Fundment (old)", "Transact - paraplanning"}
	for i := range conns {
		conns[i].UUID, conns[i].Label = ids[i], labels[i]
		conns[i].RefreshAuthorizationURL = "https://api.plannrcrm.com/oauth/" + conns[i].ProviderName + "/authorize/" + ids[i]
	}
	return User{
		Email:       SecondUserEmail,
		Password:    DemoPassword,
		Accounts:    []Account{{UUID: "4a3b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c1d", Name: "Harbour Wealth Paraplanning", Type: "admin"}},
		Connections: conns,
	}
}

// WithLoginPage makes /oauth/authorize show a sign-in page, where a person
// signs in as one of the fake's users and approves or denies the client.
func WithLoginPage() Option { return func(s *Server) { s.oauth.loginPage = true } }

// loginPageLifetime is how long a shown sign-in page can be submitted.
const loginPageLifetime = 10 * time.Minute

// authorizeFields are the authorization request's parameters the sign-in
// form carries back.
var authorizeFields = []string{"client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method"}

// loginPageSource is the sign-in page. It is parsed when a page is served, not at
// package initialization: the fake starts in every plannr-mcp process that
// links it, and its pages are seldom shown.
const loginPageSource = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to the Plannr sandbox</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1d2433}
label{display:block;margin-top:1rem}input{width:100%;padding:.5rem;box-sizing:border-box}
.actions{margin-top:1.5rem;display:flex;gap:.75rem}button{padding:.5rem 1rem}.error{color:#b00020}
.note{color:#555;font-size:.9rem}</style></head>
<body><h1>Plannr sandbox</h1>
<p>The application <strong>{{.Client}}</strong> asks to act for you in this sandbox Plannr. Sign in to approve.</p>
<p class="note">This is a fake Plannr with sample data. Demo users: {{range $i, $u := .Users}}{{if $i}}, {{end}}<code>{{$u}}</code>{{end}}; password <code>{{.Password}}</code>.</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/oauth/authorize">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<label for="email">E-mail</label><input id="email" name="email" type="email" autocomplete="username" required value="{{.Email}}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions"><button type="submit" name="action" value="approve">Sign in and authorize</button>
<button type="submit" name="action" value="deny" formnovalidate>Cancel</button></div>
</form></body></html>
`

// loginPage parses loginPageSource.
func loginPage() *template.Template {
	return template.Must(template.New("login").Parse(loginPageSource))
}

type hiddenField struct{ Name, Value string }

// showLoginPage answers with the sign-in page for an authorization request
// that passed the checks; the caller holds o.mu.
func (s *Server) showLoginPage(w http.ResponseWriter, q url.Values, problem string) {
	o := &s.oauth
	now := s.now()
	if o.pageNonces == nil {
		o.pageNonces = map[string]time.Time{}
	}
	for n, exp := range o.pageNonces {
		if !now.Before(exp) {
			delete(o.pageNonces, n)
		}
	}
	nonce := randomToken("page")
	o.pageNonces[nonce] = now.Add(loginPageLifetime)
	hidden := []hiddenField{{"page", nonce}}
	for _, f := range authorizeFields {
		if v := q.Get(f); v != "" {
			hidden = append(hidden, hiddenField{f, v})
		}
	}
	s.mu.Lock()
	var users []string
	for email := range s.people {
		users = append(users, email)
	}
	s.mu.Unlock()
	slices.Sort(users)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// No form-action: the answer to the form redirects to the client,
	// which is another origin.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnauthorized
	}
	w.WriteHeader(status)
	_ = loginPage().Execute(w, map[string]any{
		"Client": q.Get("client_id"), "Users": users, "Password": DemoPassword,
		"Error": problem, "Hidden": hidden, "Email": q.Get("email"),
	})
}

// signIn takes the sign-in form: it checks the page it came from, the
// request again, and the person's password, then approves or denies.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, body []byte) {
	form, err := url.ParseQuery(string(body))
	o := &s.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil || !o.loginPage {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descInvalidRequest, "Sign in through the page /oauth/authorize shows", true)
		return
	}
	exp, ok := o.pageNonces[form.Get("page")]
	if !ok || !s.now().Before(exp) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", descInvalidRequest, "The sign-in page expired or was already used; start again", true)
		return
	}
	delete(o.pageNonces, form.Get("page"))
	req, ok := s.checkAuthRequest(w, form)
	if !ok {
		return
	}
	if form.Get("action") == "deny" {
		redirectBack(w, r, req, url.Values{"error": {"access_denied"}, "error_description": {"The resource owner or authorization server denied the request."}})
		return
	}
	s.mu.Lock()
	who, known := s.people[form.Get("email")]
	s.mu.Unlock()
	if !known || subtle.ConstantTimeCompare([]byte(who.password), []byte(form.Get("password"))) != 1 {
		s.showLoginPage(w, form, "Wrong e-mail address or password.")
		return
	}
	s.approveLocked(w, r, req, who.email)
}
