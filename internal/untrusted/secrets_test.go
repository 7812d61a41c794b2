package untrusted_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// secret looks like a Personal Access Token: it holds the characters that
// escaping changes.
const secret = "pat|4Zk/9+q=Wm_x-Lr.Tt~8sV2nQ"

// encodings returns secret in every form an echo may give it.
func encodings(secret string) map[string]string {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	jsonOf := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return map[string]string{
		"raw":                          secret,
		"bearer header":                "Authorization: Bearer " + secret,
		"json":                         jsonOf(secret),
		"php json":                     strings.ReplaceAll(jsonOf(secret), "/", `\/`),
		"query escaped":                url.QueryEscape(secret),
		"path escaped":                 url.PathEscape(secret),
		"lower-case percent escapes":   lowerEscapes(url.QueryEscape(secret)),
		"base64":                       b64(secret),
		"base64url":                    base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"base64 of Bearer token":       b64("Bearer " + secret),
		"base64 of the header":         b64("Authorization: Bearer " + secret),
		"base64 with a tail":           b64("x" + secret + "tail bytes"),
		"base64url of a JSON dump":     base64.URLEncoding.EncodeToString([]byte(`{"authorization":["Bearer ` + secret + `"]}`)),
		"query escaped in a URL":       "https://evil.example/?t=" + url.QueryEscape("Bearer "+secret),
		"json of the base64 of header": jsonOf(b64("Bearer " + secret)),
	}
}

// lowerEscapes writes the percent escapes of s in lower case.
func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = byte(strings.ToLower(string(b[i+1]))[0]), byte(strings.ToLower(string(b[i+2]))[0])
		}
	}
	return string(b)
}

// leaks reports whether text still holds secret in any form.
func leaks(text, secret string) (string, bool) {
	for name, form := range encodings(secret) {
		if name == "bearer header" || name == "query escaped in a URL" || name == "json of the base64 of header" {
			continue // contain the raw or an encoded form checked on its own
		}
		core := form
		if strings.HasPrefix(name, "base64") {
			// Any piece of an encoding that depends only on the secret.
			core = form[len(form)/3 : 2*len(form)/3]
		}
		if strings.Contains(text, core) {
			return name, true
		}
	}
	return "", false
}

func TestRedactRemovesEveryForm(t *testing.T) {
	s := untrusted.NewSecrets()
	s.Set("pat", secret)
	for name, form := range encodings(secret) {
		t.Run(name, func(t *testing.T) {
			text := "<html><body><pre>debug: " + form + "\nend</pre></body></html>"
			got := s.RedactString(text)
			if how, ok := leaks(got, secret); ok {
				t.Errorf("still holds the secret (%s): %s", how, got)
			}
			if !strings.Contains(got, untrusted.Redacted) {
				t.Errorf("no %s marker in %s", untrusted.Redacted, got)
			}
			if !strings.HasPrefix(got, "<html><body><pre>debug: ") || !strings.HasSuffix(got, "\nend</pre></body></html>") {
				t.Errorf("text around the secret was damaged: %s", got)
			}
		})
	}
}

func TestRedactExtraSecretsAndSlots(t *testing.T) {
	var s untrusted.Secrets
	s.Set("login", "access-token-one-aaaa", "refresh-token-one-bbbb")
	text := "a access-token-one-aaaa b refresh-token-one-bbbb c call-token-cccc-dddd"
	got := s.RedactString(text, "call-token-cccc-dddd")
	if got != "a [REDACTED] b [REDACTED] c [REDACTED]" {
		t.Errorf("got %q", got)
	}
	// A refreshed login replaces the slot: the old pair is no longer held.
	s.Set("login", "access-token-two-eeee")
	if got := s.RedactString(text); got != text {
		t.Errorf("after replacing the slot: %q", got)
	}
	var none *untrusted.Secrets
	if got := none.RedactString("x call-token-cccc-dddd", "call-token-cccc-dddd"); got != "x [REDACTED]" {
		t.Errorf("nil set with an extra secret: %q", got)
	}
}

func TestRedactLeavesShortValuesAndCleanTextAlone(t *testing.T) {
	s := untrusted.NewSecrets()
	s.Set("short", "abc", "")
	text := []byte(`{"message":"abc is fine"}`)
	if got := s.Redact(text); &got[0] != &text[0] {
		t.Error("text without secrets was copied")
	}
	if got := s.RedactString("abc"); got != "abc" {
		t.Errorf("a value shorter than 8 bytes was treated as a secret: %q", got)
	}
}

func TestRedactLongerSecretFirst(t *testing.T) {
	s := untrusted.NewSecrets()
	s.Set("a", "prefix-12345678")
	s.Set("b", "prefix-12345678-and-more")
	if got := s.RedactString("x prefix-12345678-and-more y"); got != "x [REDACTED] y" {
		t.Errorf("got %q: a piece of the longer secret survived", got)
	}
}

func TestRequestSecrets(t *testing.T) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {"refresh-secret-1234"},
		"client_id":     {"client-id"},
		"client_secret": {"client-secret-5678"},
	}
	req, err := http.NewRequest(http.MethodPost, "https://plannr.example/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("client-id", "basic-secret-9999")
	got := strings.Join(untrusted.RequestSecrets(req), " ")
	for _, want := range []string{"refresh-secret-1234", "client-secret-5678", "basic-secret-9999"} {
		if !strings.Contains(got, want) {
			t.Errorf("secrets of the request %q lack %s", got, want)
		}
	}
	if strings.Contains(got, "refresh_token ") || strings.Contains(got, "grant_type") {
		t.Errorf("non-secret fields taken: %q", got)
	}
	// The body can still be sent after it was read.
	body, _ := req.GetBody()
	var b bytes.Buffer
	_, _ = b.ReadFrom(body)
	if b.String() != form.Encode() {
		t.Errorf("body after reading the secrets: %q", b.String())
	}

	answer := []byte(`{"error":"invalid_request","hint":"got refresh_token=refresh-secret-1234&client_secret=client-secret-5678"}`)
	clean := string(untrusted.NewSecrets().RedactAnswer(req, answer))
	if strings.Contains(clean, "secret-") {
		t.Errorf("answer still holds the request's secrets: %s", clean)
	}
}

func TestRedactError(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "https://plannr.example/api", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	base := &url.Error{Op: "Get", URL: "https://plannr.example/api", Err: errString(`malformed HTTP status code "` + secret + `"`)}
	err := untrusted.NewSecrets().RedactError(req, base)
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error message still holds the token: %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Error("the redacted error no longer unwraps to the original")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func BenchmarkRedactListAnswer(b *testing.B) {
	s := untrusted.NewSecrets()
	s.Set("pat", "pat-0123456789abcdefghijklmnopqrstuvwxyz")
	body := bytes.Repeat([]byte(`{"uuid":"8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c","label":"My Fundment Account 1","provider":{"name":"fundment"}},`), 80)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s.Redact(body, "pat-0123456789abcdefghijklmnopqrstuvwxyz")
	}
}
