package authserver

import (
	"context"
	"html/template"
	"net/http"
	"net/url"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// pageHeaders are the headers of every page the server shows: no caching,
// no framing (frame-ancestors and X-Frame-Options), no referrer, nothing
// loaded but the page's own inline style. There is no form-action: the
// consent form's answer redirects to Plannr or to the client, which
// form-action would block.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

const pageStyle = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1d2433;line-height:1.45}
.who{background:#f3f5f9;border-radius:.5rem;padding:.75rem 1rem}.note{color:#555;font-size:.9rem}
.actions{margin-top:1.5rem;display:flex;gap:.75rem}button{padding:.55rem 1.1rem;font-size:1rem}
code{overflow-wrap:anywhere}`

// pages are the server's page templates, parsed in New rather than at
// package init: init runs at every start of the binary, stdio included.
type pages struct {
	consent, message, account *template.Template
}

func parsePages() pages {
	return pages{
		consent: template.Must(template.New("consent").Parse(consentHTML)),
		message: template.Must(template.New("message").Parse(messageHTML)),
		account: template.Must(template.New("account").Parse(accountHTML)),
	}
}

const consentHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Allow {{.Name}} to use plannr-mcp?</title><style>` + pageStyle + `</style></head>
<body><h1>Allow <span id="client-name">{{.Name}}</span> to act for you on Plannr?</h1>
<div class="who"><p><strong>{{.Name}}</strong> {{.Identity}}</p>
<p>After you allow it, it receives the answers at <code id="redirect-host">{{.RedirectHost}}</code>.</p></div>
<p>If you allow it, you sign in to Plannr next, and it will be able to:</p>
<ul>{{range .Capabilities}}<li>{{.}}</li>{{end}}</ul>
<p class="note">It acts as you: it sees and changes only what Plannr lets you see. It never receives your Plannr password or tokens. You can withdraw it at any time by disconnecting it, or ask this server's operator to revoke it.</p>
<form method="post" action="/authorize">
<input type="hidden" name="request" value="{{.Request}}"><input type="hidden" name="csrf" value="{{.CSRF}}">
<div class="actions"><button type="submit" name="action" value="allow" id="allow">Allow and sign in to Plannr</button>
<button type="submit" name="action" value="deny" id="deny">Deny</button></div>
</form></body></html>
`

const accountHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Choose a Plannr account</title><style>` + pageStyle + `</style></head>
<body><h1>Which account should <span id="client-name">{{.Name}}</span> act for?</h1>
<p>You can act for several Plannr accounts. The application acts for the one you choose here, until you sign in again.</p>
<form method="post" action="/authorize">
<input type="hidden" name="request" value="{{.Request}}"><input type="hidden" name="csrf" value="{{.CSRF}}"><input type="hidden" name="action" value="allow">
{{range .Accounts}}<p><label><input type="radio" name="account" value="{{.UUID}}"{{if .Checked}} checked{{end}}> {{.Name}} <span class="note">({{.Type}}{{if .Preferred}}, Plannr's preferred account{{end}})</span></label></p>
{{end}}<div class="actions"><button type="submit" id="continue">Continue</button></div>
</form></body></html>
`

const messageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>plannr-mcp</title><style>` + pageStyle + `</style></head>
<body><h1>plannr-mcp</h1><p id="message">{{.Message}}</p>{{if .Detail}}<p class="note">{{.Detail}}</p>{{end}}</body></html>
`

// consentPage asks the person whether to allow the client.
func (s *Server) consentPage(w http.ResponseWriter, c *client, p pendingRequest, id string) {
	name := untrusted.Text(c.name)
	if name == "" {
		name = "An unnamed application"
	}
	identity := "registered itself with this server; its name is what it says of itself, not checked."
	if c.kind == store.ClientMetadataDocument {
		if u, err := url.Parse(c.id); err == nil {
			identity = "is identified by a document published at " + u.Host + "."
		}
	}
	pageHeaders(w)
	w.WriteHeader(http.StatusOK)
	_ = s.pages.consent.Execute(w, map[string]any{
		"Name": name, "Identity": identity, "RedirectHost": redirectHost(p.RedirectURI),
		"Capabilities": s.cfg.Capabilities, "Request": id, "CSRF": p.CSRF,
	})
}

// accountPage asks the person which of their accounts the client acts for;
// the current one is chosen to begin with.
func (s *Server) accountPage(ctx context.Context, w http.ResponseWriter, p pendingRequest, id string, user *auth.User, current string) {
	name := p.ClientID
	if c, err := s.lookupClient(ctx, p.ClientID); err == nil && c.name != "" {
		name = c.name
	}
	type choice struct {
		UUID, Name, Type   string
		Checked, Preferred bool
	}
	var choices []choice
	for _, a := range user.Accounts {
		choices = append(choices, choice{UUID: a.UUID, Name: untrusted.Text(a.Name), Type: untrusted.Text(a.Type), Checked: a.UUID == current, Preferred: a.UUID == user.PreferredAccountUUID})
	}
	pageHeaders(w)
	w.WriteHeader(http.StatusOK)
	_ = s.pages.account.Execute(w, map[string]any{"Name": untrusted.Text(name), "Request": id, "CSRF": p.CSRF, "Accounts": choices})
}

// redirectHost names where a redirect URI points, for the person.
func redirectHost(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "an unreadable address"
	case u.Host != "":
		return u.Host
	default:
		return u.Scheme + ": (an application on your device)"
	}
}

// page shows the person a message.
func (s *Server) page(w http.ResponseWriter, status int, message, detail string) {
	pageHeaders(w)
	w.WriteHeader(status)
	_ = s.pages.message.Execute(w, map[string]string{"Message": message, "Detail": detail})
}
