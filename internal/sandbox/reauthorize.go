package sandbox

import (
	"html/template"
	"net/http"
	"time"
)

// reauthorizePrefix is where the fake serves each connection's
// re-authorization page, with WithReauthorizePage.
const reauthorizePrefix = "/reauthorize/"

// ReauthorizedLifetime is how long a refresh token lasts after a person
// re-authorizes a connection on the fake's page.
const ReauthorizedLifetime = 182 * 24 * time.Hour

// WithReauthorizePage makes every connection's refresh_authorization_url
// the fake's own page, which renews the connection's tokens when a person
// opens it, as signing in at the third party does: the sandbox's
// re-authorization can then be tried end to end.
func WithReauthorizePage() Option { return func(s *Server) { s.reauthorizePage = true } }

// reauthorizeBase is the base of the fake's own re-authorization URLs
// for an answer to r, or "" when it serves none.
func (s *Server) reauthorizeBase(r *http.Request) string {
	if !s.reauthorizePage {
		return ""
	}
	return "http://" + r.Host
}

// reauthorizedPageSource is the page a re-authorization link shows. It is parsed when a page is served, not at
// package initialization: the fake starts in every plannr-mcp process that
// links it, and its pages are seldom shown.
const reauthorizedPageSource = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Plannr sandbox</title></head>
<body><h1>Plannr sandbox</h1><p>{{.}}</p><p>You can close this page and return to the assistant.</p></body></html>
`

// reauthorizedPage parses reauthorizedPageSource.
func reauthorizedPage() *template.Template {
	return template.Must(template.New("reauthorized").Parse(reauthorizedPageSource))
}

// reauthorize renews the tokens of the connection with this uuid,
// whoever's it is: the page is opened in a browser, without a bearer token.
func (s *Server) reauthorize(w http.ResponseWriter, r *http.Request, uuid string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, message("Open the re-authorization page in a browser."))
		return
	}
	now := s.now()
	found := ""
	s.mu.Lock()
	for _, p := range s.people {
		if i := p.index(uuid); i >= 0 {
			p.connections[i].RefreshTokenExpiresAt = utcMicro(now.Add(ReauthorizedLifetime))
			p.connections[i].AccessTokenExpiresAt = utcMicro(now.Add(time.Hour))
			p.connections[i].UpdatedAt = withOffset(now)
			found = p.connections[i].Label
			s.changes[uuid]++
		}
	}
	s.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	if found == "" {
		w.WriteHeader(http.StatusNotFound)
		_ = reauthorizedPage().Execute(w, "No connection has this re-authorization link.")
		return
	}
	_ = reauthorizedPage().Execute(w, "The connection "+found+" is re-authorized.")
}
