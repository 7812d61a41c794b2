package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// linkOpener is a person at a client that can open links for them: it
// records what it was asked to open and answers with action, opening the
// page first when visit is set.
type linkOpener struct {
	action string
	visit  bool

	mu        sync.Mutex
	asked     []sdk.ElicitParams
	completed []string
	progress  []string
}

func (o *linkOpener) handle(ctx context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
	o.mu.Lock()
	o.asked = append(o.asked, *req.Params)
	o.mu.Unlock()
	if req.Params.Mode != "url" {
		return &sdk.ElicitResult{Action: "decline"}, nil
	}
	if o.visit {
		page, err := http.NewRequestWithContext(ctx, http.MethodGet, req.Params.URL, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(page)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
	}
	return &sdk.ElicitResult{Action: o.action}, nil
}

func (o *linkOpener) complete(_ context.Context, n *sdk.ElicitationCompleteNotificationRequest) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.completed = append(o.completed, n.Params.ElicitationID)
}

// options are the client options of a client that can open links.
func (o *linkOpener) options() *sdk.ClientOptions {
	return &sdk.ClientOptions{
		Capabilities: &sdk.ClientCapabilities{Elicitation: &sdk.ElicitationCapabilities{
			Form: &sdk.FormElicitationCapabilities{}, URL: &sdk.URLElicitationCapabilities{},
		}},
		ElicitationHandler:         o.handle,
		ElicitationCompleteHandler: o.complete,
		ProgressNotificationHandler: func(_ context.Context, n *sdk.ProgressNotificationClientRequest) {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.progress = append(o.progress, n.Params.Message)
		},
	}
}

// record is what the client was asked, told of completion and told of
// progress so far.
func (o *linkOpener) record() (asked []sdk.ElicitParams, completed, progress []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.asked), slices.Clone(o.completed), slices.Clone(o.progress)
}

// TestReauthorizeEndToEnd drives reauthorize_oauth_connection in the built
// binary, over stdio and HTTP, in both protocol eras, with the official SDK
// client as clients of three kinds: one that opens the link for the person
// (the fake's re-authorization page renews the connection when visited),
// one whose person declines or does not finish, and one that cannot open
// links at all.
func TestReauthorizeEndToEnd(t *testing.T) {
	clients := []struct {
		name    string
		person  *linkOpener // nil: a client without URL-mode elicitation
		outcome string
	}{
		{"opens the link", &linkOpener{action: "accept", visit: true}, "reauthorized"},
		{"person declines", &linkOpener{action: "decline"}, "declined"},
		{"person accepts but does not finish", &linkOpener{action: "accept"}, "not_completed"},
		{"cannot open links", nil, "link_given"},
	}
	for _, transport := range []string{"stdio", "http"} {
		for _, version := range confirmationVersions {
			for _, c := range clients {
				t.Run(transport+"/"+version+"/"+c.name, func(t *testing.T) {
					t.Parallel()
					fake, url := startFake(t, sandbox.WithReauthorizePage())
					var opts *sdk.ClientOptions
					var person *linkOpener
					if c.person != nil {
						person = &linkOpener{action: c.person.action, visit: c.person.visit}
						opts = person.options()
					}
					env := append(fakeEnv(t, url), "PLANNR_MCP_REAUTHORIZE_WAIT=2s")
					var session *sdk.ClientSession
					if transport == "stdio" {
						session, _ = connectStdioWith(t, env, version, opts)
					} else {
						srv := startHTTP(t, append(env, "PLANNR_MCP_AUTH_TOKENS="+clientToken))
						session = connectHTTPWith(t, srv.url, plannrtest.Bearer{Token: clientToken}, version, opts)
					}
					checkReauthorize(t, session, fake, version, person, c.outcome)
				})
			}
		}
	}
}

// checkReauthorize re-authorizes the expired Nucleus connection through
// session and checks the outcome, what the person was asked to open, and
// what reached the fake.
func checkReauthorize(t *testing.T, session *sdk.ClientSession, fake *sandbox.Server, version string, person *linkOpener, outcome string) {
	t.Helper()
	names, tools := listToolNames(t, session)
	tool := tools["reauthorize_oauth_connection"]
	if tool == nil {
		t.Fatalf("tools/list %q has no reauthorize_oauth_connection", names)
	}
	if a := tool.Annotations; a == nil || a.ReadOnlyHint || a.DestructiveHint == nil || *a.DestructiveHint || !a.IdempotentHint {
		t.Errorf("reauthorize annotations %+v: want not read-only, not destructive, idempotent", a)
	}
	schema := compileSchema(t, "reauthorize output", tool.OutputSchema)
	plannrURL := refreshURL(t, session, nucleusUUID)
	if !strings.HasSuffix(plannrURL, "/reauthorize/"+nucleusUUID) {
		t.Fatalf("the fake's re-authorization URL for the connection is %q", plannrURL)
	}

	params := &sdk.CallToolParams{Name: "reauthorize_oauth_connection", Arguments: map[string]any{"uuid": nucleusUUID}}
	params.SetProgressToken("reauthorize-1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := session.CallTool(ctx, params)
	if err != nil {
		t.Fatalf("reauthorize: %v", err)
	}
	if res.IsError {
		t.Fatalf("reauthorize: %s", resultText(res))
	}
	out := validateStructured(t, schema, res)
	if out["outcome"] != outcome || out["uuid"] != nucleusUUID {
		t.Fatalf("outcome %v, want %s; text: %s", out, outcome, resultText(res))
	}
	wantChanges := 0
	if outcome == "reauthorized" {
		wantChanges = 1
		if out["status"] != "healthy" || out["refresh_token_expires_at"] == nil {
			t.Errorf("after re-authorizing: %v", out)
		}
	} else if out["status"] != "needs_reauthorization" {
		t.Errorf("status %v after %s; the connection did not change", out["status"], outcome)
	}
	if n := fake.Changes(nucleusUUID); n != wantChanges {
		t.Errorf("the fake's connection changed %d times, want %d", n, wantChanges)
	}

	if person == nil {
		if !strings.Contains(resultText(res), plannrURL) {
			t.Errorf("a client that cannot open links was not given the link: %s", resultText(res))
		}
		return
	}
	if strings.Contains(resultText(res), plannrURL) {
		t.Errorf("the link passed through the model's text although the client opened it: %s", resultText(res))
	}
	asked, completed, progress := person.record()
	if len(asked) != 1 || asked[0].Mode != "url" || asked[0].URL != plannrURL || asked[0].ElicitationID == "" {
		t.Fatalf("the person was asked %+v, want once to open exactly %s", asked, plannrURL)
	}
	if !strings.Contains(asked[0].Message, "Nucleus (old login)") {
		t.Errorf("the request does not say which connection: %q", asked[0].Message)
	}
	// A 2025-11-25 client showed the page as an ongoing elicitation; it is
	// told, by its id, when the work is done.
	if outcome == "reauthorized" && version == "2025-11-25" {
		waitFor(t, "notifications/elicitation/complete reaching the client", func() bool {
			_, completed, _ = person.record()
			return len(completed) > 0
		})
		if completed[0] != asked[0].ElicitationID {
			t.Errorf("completion for elicitation %q, want %q", completed[0], asked[0].ElicitationID)
		}
	} else if len(completed) != 0 && outcome != "reauthorized" {
		t.Errorf("elicitation completed %q although the outcome is %s", completed, outcome)
	}
	// While it waits, the server says so, which lets a client that resets its
	// request timeout on progress wait as long as the server does.
	if outcome == "not_completed" && !slices.ContainsFunc(progress, func(m string) bool { return strings.HasPrefix(m, "Waiting for the person") }) {
		t.Errorf("no progress notification while waiting; got %q", progress)
	}
}

// refreshURL is a connection's refresh_authorization_url as the list tool
// reports it from Plannr.
func refreshURL(t *testing.T, session *sdk.ClientSession, uuid string) string {
	t.Helper()
	res := callTool(t, session, "list_oauth_connections", map[string]any{"limit": 100})
	var list struct {
		Connections []struct {
			UUID string `json:"uuid"`
			URL  string `json:"refresh_authorization_url"`
		} `json:"connections"`
	}
	decodeStructured(t, res, &list)
	for _, c := range list.Connections {
		if c.UUID == uuid {
			return c.URL
		}
	}
	t.Fatalf("the list has no connection %s", uuid)
	return ""
}

// waitFor polls cond for up to thirty seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReauthorizeInOAuthMode re-authorizes as a person signed in with
// --auth oauth: the link is the one Plannr sent that person, and the state
// carried through the client is theirs alone.
func TestReauthorizeInOAuthMode(t *testing.T) {
	srv := startHTTP(t, oauthEnv(t, t.TempDir()), "--sandbox", "--auth", "oauth", "--reauthorize-wait", "5s")
	base := strings.TrimSuffix(srv.url, "/mcp")
	access, _ := registerClient(t, base).signIn(sandbox.OwnerEmail)
	// One connection for each era: the expired one, then the expiring one.
	for version, uuid := range map[string]string{"2026-07-28": nucleusUUID, "2025-11-25": "0b96d72c-d9de-40fb-9beb-de30a48c0160"} {
		t.Run(version, func(t *testing.T) {
			person := &linkOpener{action: "accept", visit: true}
			session := connectHTTPWith(t, srv.url, plannrtest.Bearer{Token: access}, version, person.options())
			plannrURL := refreshURL(t, session, uuid)
			res := callTool(t, session, "reauthorize_oauth_connection", map[string]any{"uuid": uuid})
			var out struct{ Outcome, Status string }
			decodeStructured(t, res, &out)
			if res.IsError || out.Outcome != "reauthorized" || out.Status != "healthy" {
				t.Fatalf("%+v: %s", out, resultText(res))
			}
			if asked, _, _ := person.record(); len(asked) != 1 || asked[0].URL != plannrURL {
				t.Errorf("asked to open %+v, want %s once", asked, plannrURL)
			}
		})
	}
}
