package plannrtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser plays a person's browser in the OAuth tests: it keeps cookies,
// follows no redirect by itself (each step is the test's to check), and
// reads forms from pages.
type Browser struct {
	t      testing.TB
	Client *http.Client
	// Header is sent with every request, such as Sec-Fetch-Dest.
	Header http.Header
}

// Page is an answer the browser got.
type Page struct {
	Status int
	Header http.Header
	Body   string
	URL    *url.URL
}

// NewBrowser returns a browser with an empty cookie jar.
func NewBrowser(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, Header: http.Header{}, Client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *Browser) do(req *http.Request) *Page {
	b.t.Helper()
	for k, v := range b.Header {
		req.Header[k] = v
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &Page{Status: resp.StatusCode, Header: resp.Header, Body: string(body), URL: req.URL}
}

// Get loads a URL.
func (b *Browser) Get(u string) *Page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// Post submits a form to a URL.
func (b *Browser) Post(u string, form url.Values) *Page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// Location is where a redirect points, resolved against the page's URL.
func (p *Page) Location(t testing.TB) *url.URL {
	t.Helper()
	if p.Status < 300 || p.Status > 399 {
		t.Fatalf("%s answered %d, want a redirect; body:\n%.600s", p.URL.Redacted(), p.Status, p.Body)
	}
	loc, err := p.URL.Parse(p.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

var (
	formRE  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"`)
	radioRE = regexp.MustCompile(`<input[^>]*type="radio"[^>]*name="([^"]*)"[^>]*value="([^"]*)" checked`)
)

// Form returns the action of the page's first form, resolved, and its
// hidden fields and checked radio buttons.
func (p *Page) Form(t testing.TB) (*url.URL, url.Values) {
	t.Helper()
	m := formRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("%s (%d) shows no form:\n%.600s", p.URL.Redacted(), p.Status, p.Body)
	}
	action, err := p.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	fields := url.Values{}
	for _, re := range []*regexp.Regexp{inputRE, radioRE} {
		for _, in := range re.FindAllStringSubmatch(m[2], -1) {
			fields.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
	}
	return action, fields
}

// PKCE returns a new code verifier and its S256 challenge.
func PKCE() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// SignIn walks a person through an authorization that starts at
// authorizeURL: plannr-mcp's consent page (Allow), then the sandbox
// Plannr's sign-in page as email with the demo password (the consent page
// is skipped when the server remembers the person's consent), then, for a
// person with several accounts, the account page with the account it
// proposes (or account, when given). It returns where the server finally
// sends the browser: the client's redirect URI, with the code or an error.
func (b *Browser) SignIn(authorizeURL, email, password string, account ...string) *url.URL {
	b.t.Helper()
	page := b.Get(authorizeURL)
	if page.Status == http.StatusOK {
		action, fields := page.Form(b.t)
		fields.Set("action", "allow")
		page = b.Post(action.String(), fields)
	}
	plannrPage := b.Get(page.Location(b.t).String())
	if plannrPage.Status == http.StatusOK {
		action, fields := plannrPage.Form(b.t)
		fields.Set("email", email)
		fields.Set("password", password)
		fields.Set("action", "approve")
		plannrPage = b.Post(action.String(), fields)
	}
	callback := b.Get(plannrPage.Location(b.t).String())
	if callback.Status == http.StatusOK {
		action, fields := callback.Form(b.t)
		if len(account) > 0 {
			fields.Set("account", account[0])
		}
		callback = b.Post(action.String(), fields)
	}
	return callback.Location(b.t)
}
