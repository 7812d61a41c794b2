package plannr_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

func newClient(t *testing.T, fake http.Handler, opts ...plannr.Option) *plannr.Client {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	opts = append([]plannr.Option{plannr.WithBaseURL(srv.URL)}, opts...)
	c, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestListOAuthConnectionsDecodesWireFormat(t *testing.T) {
	now := time.Date(2026, 6, 8, 15, 0, 0, 0, time.UTC)
	fake := sandbox.New(sandbox.WithClock(func() time.Time { return now }))
	c := newClient(t, fake)
	conns, err := c.ListOAuthConnections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != len(sandbox.SampleConnections(now)) {
		t.Fatalf("got %d connections", len(conns))
	}
	first := conns[0]
	if first.UUID != "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c" || first.Provider.Name != "fundment" || first.Provider.Label != "Fundment" {
		t.Errorf("first connection: %+v", first)
	}
	if first.AccessTokenExpiresAt == nil || !first.AccessTokenExpiresAt.Equal(now.Add(-2*time.Hour)) {
		t.Errorf("access expiry = %v", first.AccessTokenExpiresAt)
	}
	if first.CreatedAt.IsZero() || first.RefreshAuthorizationURL == "" {
		t.Errorf("missing fields: %+v", first)
	}
	for _, c := range conns {
		if c.Provider.Name == "transact" || c.Provider.Name == "aviva" {
			if c.AccessTokenExpiresAt != nil || c.RefreshTokenExpiresAt != nil {
				t.Errorf("%s: blank or null expiry must decode as never-expires (nil)", c.Provider.Name)
			}
		}
	}
}

func TestConnectionUnmarshal(t *testing.T) {
	tests := []struct {
		name       string
		json       string
		wantAccess string // RFC 3339 in UTC, or "" for never
		wantCreate string
		wantErr    bool
	}{
		{
			name:       "documented example",
			json:       `{"uuid":"8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c","created_at":"2026-06-08T16:08:03+01:00","updated_at":"2026-06-08T16:08:03+01:00","provider":{"name":"fundment","label":"Fundment","logo_url":"x","authorization_url":"y"},"access_token_expires_at":"2026-06-08T19:08:03.847911Z","refresh_token_expires_at":"2027-06-08T15:08:03.847942Z","refresh_authorization_url":"z","label":"My Fundment Account 1"}`,
			wantAccess: "2026-06-08T19:08:03.847911Z",
			wantCreate: "2026-06-08T15:08:03Z",
		},
		{name: "blank expiry never expires", json: `{"uuid":"a","access_token_expires_at":""}`},
		{name: "null expiry never expires", json: `{"uuid":"a","access_token_expires_at":null}`},
		{name: "missing fields tolerated", json: `{"uuid":"a"}`},
		{name: "unknown fields ignored", json: `{"uuid":"a","colour":"red","provider":{"name":"x","extra":1}}`},
		{name: "Laravel database format", json: `{"uuid":"a","created_at":"2026-01-16 13:10:23","access_token_expires_at":"2026-01-16 17:10:23"}`, wantAccess: "2026-01-16T17:10:23Z", wantCreate: "2026-01-16T13:10:23Z"},
		{name: "garbage timestamp", json: `{"uuid":"a","access_token_expires_at":"next tuesday"}`, wantErr: true},
		{name: "ISO 8601 without an offset", json: `{"uuid":"a","access_token_expires_at":"2026-06-08T19:08:03"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := sandbox.New()
			fake.Inject(sandbox.Fault{Status: 200, Body: `{"data":[` + tt.json + `]}`})
			conns, err := newClient(t, fake).ListOAuthConnections(context.Background())
			if err != nil || len(conns) != 1 {
				t.Fatalf("got %d connections, %v; want one", len(conns), err)
			}
			c := conns[0]
			if tt.wantErr {
				if c.Known("access_token_expires_at") || len(c.Unreadable) != 1 || c.AccessTokenExpiresAt != nil {
					t.Fatalf("want access_token_expires_at unknown and nothing else, got %+v", c.Unreadable)
				}
				return
			}
			if len(c.Unreadable) != 0 {
				t.Fatalf("unreadable fields: %+v", c.Unreadable)
			}
			gotAccess := ""
			if c.AccessTokenExpiresAt != nil {
				gotAccess = c.AccessTokenExpiresAt.UTC().Format(time.RFC3339Nano)
			}
			if gotAccess != tt.wantAccess {
				t.Errorf("access expiry = %q, want %q", gotAccess, tt.wantAccess)
			}
			gotCreate := ""
			if !c.CreatedAt.IsZero() {
				gotCreate = c.CreatedAt.UTC().Format(time.RFC3339Nano)
			}
			if gotCreate != tt.wantCreate {
				t.Errorf("created_at = %q, want %q", gotCreate, tt.wantCreate)
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	fake := sandbox.New()
	account := sandbox.SampleAccounts()[0].UUID
	c := newClient(t, fake, plannr.WithAccountUUID(account), plannr.WithUserAgent("plannr-mcp/1.2.3"))
	if _, err := c.RenameOAuthConnection(context.Background(), "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c", "New"); err != nil {
		t.Fatal(err)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	want := map[string]string{
		"Accept":                "application/json",
		"Content-Type":          "application/json",
		"Authorization":         "Bearer " + sandbox.SandboxToken,
		"X-Plannr-Account-Uuid": account,
		"User-Agent":            "plannr-mcp/1.2.3",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if r.Method != http.MethodPut || r.Path != "/api/v1/oauth/connections/8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c" || string(r.Body) != `{"label":"New"}` {
		t.Errorf("request: %s %s %s", r.Method, r.Path, r.Body)
	}
}

func TestNoAccountHeaderUnlessConfigured(t *testing.T) {
	fake := sandbox.New()
	c := newClient(t, fake)
	if _, err := c.ListOAuthConnections(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.Requests()[0].Header["X-Plannr-Account-Uuid"]; ok {
		t.Error("account header sent although none is configured")
	}
}

func TestRenameAndDelete(t *testing.T) {
	fake := sandbox.New()
	c := newClient(t, fake)
	ctx := context.Background()
	const uuid = "0b96d72c-d9de-40fb-9beb-de30a48c0160"
	conn, err := c.RenameOAuthConnection(ctx, uuid, "Adviser: J. Smith")
	if err != nil {
		t.Fatal(err)
	}
	if conn.UUID != uuid || conn.Label != "Adviser: J. Smith" || conn.RefreshTokenExpiresAt == nil {
		t.Errorf("renamed connection: %+v", conn)
	}
	if err := c.DeleteOAuthConnection(ctx, uuid); err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.Connection(uuid); ok {
		t.Error("connection still stored after delete")
	}
	var apiErr *plannr.ErrorResponse
	if err := c.DeleteOAuthConnection(ctx, uuid); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
		t.Errorf("second delete: %v", err)
	}
}

func TestListLogins(t *testing.T) {
	c := newClient(t, sandbox.New())
	logins, err := c.ListLogins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != 2 || logins[0].Account.UUID != sandbox.SampleAccounts()[0].UUID || logins[0].Account.UUID == logins[0].UUID {
		t.Errorf("logins: %+v", logins)
	}
}

// TestErrorResponses covers every error status and body shape Plannr is
// documented to send, plus the odd bodies proxies produce.
func TestErrorResponses(t *testing.T) {
	tests := []struct {
		name        string
		fault       sandbox.Fault
		token       string
		call        string // list, rename or delete
		wantStatus  int
		wantMessage string
		wantFields  []string
		wantRetry   time.Duration
	}{
		{name: "401 unauthenticated", token: "wrong", call: "list", wantStatus: 401, wantMessage: "Unauthenticated."},
		{name: "403 unauthorized", fault: sandbox.Fault{Status: 403, Body: `{"message":"This action is unauthorized."}`}, call: "list", wantStatus: 403, wantMessage: "This action is unauthorized."},
		{name: "404 unknown uuid", call: "rename-unknown", wantStatus: 404, wantMessage: "No query results for model [App\\Models\\OAuthConnection] 00000000-0000-4000-8000-000000000000"},
		{name: "404 unknown route", fault: sandbox.Fault{Status: 404, Body: `{"message":"The route api/v1/oauth/connectionz could not be found."}`}, call: "list", wantStatus: 404, wantMessage: "The route api/v1/oauth/connectionz could not be found."},
		{name: "405 wrong method", fault: sandbox.Fault{Status: 405, Body: `{"message":"The POST method is not supported for route api/v1/oauth/connections. Supported methods: GET, HEAD."}`}, call: "list", wantStatus: 405, wantMessage: "The POST method is not supported for route api/v1/oauth/connections. Supported methods: GET, HEAD."},
		{name: "422 one field", call: "rename-empty", wantStatus: 422, wantMessage: "The label field is required.", wantFields: []string{"The label field is required."}},
		{name: "422 several errors", fault: sandbox.Fault{Status: 422, Body: `{"message":"The label field must be a string. (and 1 more error)","errors":{"label":["The label field must be a string.","The label field must not be greater than 255 characters."]}}`}, call: "list", wantStatus: 422, wantMessage: "The label field must be a string. (and 1 more error)", wantFields: []string{"The label field must be a string.", "The label field must not be greater than 255 characters."}},
		{name: "429 with Retry-After", fault: sandbox.Fault{Status: 429, Body: `{"message":"Too Many Attempts."}`, Header: http.Header{"Retry-After": {"17"}, "X-Ratelimit-Reset": {"1790000000"}}}, call: "list", wantStatus: 429, wantMessage: "Too Many Attempts.", wantRetry: 17 * time.Second},
		{name: "500 debug off", fault: sandbox.Fault{Status: 500, Body: `{"message":"Server Error"}`}, call: "list", wantStatus: 500, wantMessage: "Server Error"},
		{name: "500 empty body", fault: sandbox.Fault{Status: 500}, call: "list", wantStatus: 500, wantMessage: ""},
		{name: "502 HTML from a proxy", fault: sandbox.Fault{Status: 502, ContentType: "text/html", Body: "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"}, call: "list", wantStatus: 502, wantMessage: "the answer was an HTML page, not JSON (often a proxy or gateway error page)"},
		{name: "503 plain text", fault: sandbox.Fault{Status: 503, ContentType: "text/plain", Body: "upstream connect error\x1b[31m"}, call: "list", wantStatus: 503, wantMessage: "upstream connect error[31m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := sandbox.New()
			if tt.fault.Status != 0 {
				fake.Inject(tt.fault)
			}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			token := sandbox.SandboxToken
			if tt.token != "" {
				token = tt.token
			}
			// Retries are off: this test is about reading each answer once.
			c, err := plannr.NewClient(auth.PersonalAccessToken(token), plannr.WithBaseURL(srv.URL), plannr.WithRetry(plannr.RetryPolicy{}))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			switch tt.call {
			case "list":
				_, err = c.ListOAuthConnections(ctx)
			case "rename-unknown":
				_, err = c.RenameOAuthConnection(ctx, "00000000-0000-4000-8000-000000000000", "x")
			case "rename-empty":
				_, err = c.RenameOAuthConnection(ctx, "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c", "")
			}
			var apiErr *plannr.ErrorResponse
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v (%T) is not an *ErrorResponse", err, err)
			}
			if apiErr.StatusCode != tt.wantStatus || apiErr.Message != tt.wantMessage {
				t.Errorf("got %d %q, want %d %q", apiErr.StatusCode, apiErr.Message, tt.wantStatus, tt.wantMessage)
			}
			if got := apiErr.FieldMessages(); strings.Join(got, "|") != strings.Join(tt.wantFields, "|") {
				t.Errorf("field messages = %q, want %q", got, tt.wantFields)
			}
			var rateErr *plannr.RateLimitError
			if isRate := errors.As(err, &rateErr); isRate != (tt.wantStatus == 429) {
				t.Errorf("RateLimitError = %v for status %d", isRate, tt.wantStatus)
			} else if isRate && (rateErr.RetryAfter != tt.wantRetry || rateErr.Reset.Unix() != 1790000000) {
				t.Errorf("retry after %v, reset %v", rateErr.RetryAfter, rateErr.Reset)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error text contains the token: %v", err)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := plannr.ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCredentialError(t *testing.T) {
	fake := sandbox.New()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, err := plannr.NewClient(auth.Unconfigured("set PLANNR_TOKEN"), plannr.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListOAuthConnections(context.Background())
	var credErr *plannr.CredentialError
	if !errors.As(err, &credErr) || !errors.Is(err, auth.ErrNoCredential) {
		t.Fatalf("want a CredentialError wrapping ErrNoCredential, got %v", err)
	}
	if len(fake.Requests()) != 0 {
		t.Fatal("a request was sent without a credential")
	}
}

func TestMalformedSuccessBody(t *testing.T) {
	fake := sandbox.New()
	fake.Inject(sandbox.Fault{Status: 200, Body: `{"data":[{"uuid":"a","label":`})
	c := newClient(t, fake)
	_, err := c.ListOAuthConnections(context.Background())
	var me *plannr.MalformedResponseError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "decoding the 200 answer") || !me.CutOff {
		t.Fatalf("want a decoding error of an answer cut off, got %v", err)
	}
}

func TestResponseTooLarge(t *testing.T) {
	fake := sandbox.New()
	fake.Inject(sandbox.Fault{Status: 200, Body: `{"data":[` + strings.Repeat(" ", 2048) + `]}`})
	c := newClient(t, fake, plannr.WithMaxResponseBytes(1024))
	if _, err := c.ListOAuthConnections(context.Background()); !errors.Is(err, plannr.ErrResponseTooLarge) {
		t.Fatalf("want ErrResponseTooLarge, got %v", err)
	}
}

func TestTimeout(t *testing.T) {
	fake := sandbox.New()
	fake.Inject(sandbox.Fault{Delay: time.Minute})
	c := newClient(t, fake, plannr.WithTimeout(50*time.Millisecond))
	if _, err := c.ListOAuthConnections(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
}

func TestNewClientRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"api.plannrcrm.com", "ftp://x", "://"} {
		if _, err := plannr.NewClient(auth.PersonalAccessToken("t"), plannr.WithBaseURL(u)); err == nil {
			t.Errorf("base URL %q accepted", u)
		}
	}
}
