package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// openLoginPage fetches the sign-in page and returns the form it holds.
func openLoginPage(t *testing.T, base string) url.Values {
	t.Helper()
	resp, err := noRedirects.Get(base + "/oauth/authorize?" + authorizeQuery(nil).Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Sign in and authorize") {
		t.Fatalf("authorize = %d, want the sign-in page:\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("sign-in page CSP = %q", csp)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&#43;", "+"))
	}
	return form
}

func submit(t *testing.T, base string, form url.Values) *http.Response {
	t.Helper()
	resp, err := noRedirects.PostForm(base+"/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestLoginPageSignsInEachUserAsThemselves(t *testing.T) {
	fake, srv, _ := startOAuthFake(t, sandbox.WithLoginPage(), sandbox.WithUsers(sandbox.SecondUser(time.Date(2026, 6, 8, 12, 0, 0, 0, time.UTC))))
	for _, email := range []string{sandbox.OwnerEmail, sandbox.SecondUserEmail} {
		t.Run(email, func(t *testing.T) {
			form := openLoginPage(t, srv.URL)
			form.Set("email", email)
			form.Set("password", sandbox.DemoPassword)
			form.Set("action", "approve")
			resp := submit(t, srv.URL, form)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "state-123" || loc.Query().Get("code") == "" {
				t.Fatalf("sign-in = %d to %q, want a redirect with a code and the state", resp.StatusCode, loc)
			}
			answer := postToken(t, srv, exchangeForm(loc.Query().Get("code"), nil))
			tok, _ := answer.body["access_token"].(string)
			if answer.status != http.StatusOK || tok == "" {
				t.Fatalf("code exchange = %d %v", answer.status, answer.body)
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/logins", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			lr, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer lr.Body.Close()
			var logins struct {
				Data []struct {
					Email string `json:"email"`
				} `json:"data"`
			}
			_ = json.NewDecoder(lr.Body).Decode(&logins)
			if len(logins.Data) == 0 || logins.Data[0].Email != email {
				t.Errorf("logins of the new token: %+v, want %s", logins, email)
			}
		})
	}
	if own, other := fake.ConnectionsOf(sandbox.OwnerEmail), fake.ConnectionsOf(sandbox.SecondUserEmail); len(own) == 0 || len(other) == 0 || own[0].UUID == other[0].UUID {
		t.Error("the two users do not see different connections")
	}
}

func TestLoginPageRefusals(t *testing.T) {
	_, srv, _ := startOAuthFake(t, sandbox.WithLoginPage())
	form := openLoginPage(t, srv.URL)
	form.Set("email", sandbox.OwnerEmail)
	form.Set("password", "wrong")
	form.Set("action", "approve")
	if resp := submit(t, srv.URL, form); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Errorf("wrong password = %d, want the page again with 401", resp.StatusCode)
	}
	// That page has been used; it cannot be submitted again.
	form.Set("password", sandbox.DemoPassword)
	if resp := submit(t, srv.URL, form); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a used page = %d, want 400", resp.StatusCode)
	}

	form = openLoginPage(t, srv.URL)
	form.Set("action", "deny")
	resp := submit(t, srv.URL, form)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" {
		t.Errorf("deny = %d to %q, want access_denied and no code", resp.StatusCode, loc)
	}

	form = openLoginPage(t, srv.URL)
	form.Set("redirect_uri", "http://127.0.0.1:9999/elsewhere")
	form.Set("email", sandbox.OwnerEmail)
	form.Set("password", sandbox.DemoPassword)
	if resp := submit(t, srv.URL, form); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Errorf("a tampered redirect URI = %d to %q, want invalid_client and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
}
