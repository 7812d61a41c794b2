package tools_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

const (
	faultListPath = "/api/v1/oauth/connections"
	faultUUID     = "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c"
	faultConnPath = faultListPath + "/" + faultUUID
)

// faultEnv is the fake Plannr and client of plannrtest.Env, and an MCP
// client talking in process to the toolset's server.
type faultEnv struct {
	*plannrtest.Env
	mcp *client.Client
}

func newFaultEnv(t *testing.T, start time.Time, opts ...plannr.Option) *faultEnv {
	t.Helper()
	env := plannrtest.NewEnv(t, start, opts...)
	toolset := tools.NewToolset(env.Client, tools.Options{Now: env.Clock.Now})
	c, err := client.NewInProcessClient(toolset.NewServer(tools.ServerConfig{Version: "test"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	faultInitialize(t, c)
	return &faultEnv{Env: env, mcp: c}
}

func faultInitialize(t *testing.T, c *client.Client) {
	t.Helper()
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "fault-test", Version: "test"}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
}

// call runs a tool and returns its text and whether it is an error result.
func (e *faultEnv) call(t *testing.T, name string, args map[string]any) (string, bool) {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := e.mcp.CallTool(t.Context(), req)
	if err != nil {
		t.Fatalf("calling %s: %v", name, err)
	}
	if len(res.Content) == 0 {
		t.Fatalf("%s answered with no content", name)
	}
	return mcp.GetTextFromContent(res.Content[0]), res.IsError
}

func TestToolCallsUnderFaults(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	tooMany := `{"message":"Too Many Attempts."}`
	unavailable := `{"message":"Service Unavailable"}`
	retryAfter := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	listArgs := map[string]any{}
	renameArgs := map[string]any{"uuid": faultUUID, "label": "Fundment (main)"}
	const listed = "^6 connections, "

	tests := []struct {
		name      string
		fault     sandbox.Fault
		retries   int // MaxRetries; zero keeps the default of 4
		tool      string
		args      map[string]any
		method    string
		path      string
		attempts  int
		waits     []plannrtest.WaitCheck
		abandoned int
		isError   bool
		// message is a regular expression the tool's text must match.
		message string
	}{
		{
			name:  "429 with Retry-After in seconds",
			fault: sandbox.Fault{Status: 429, Body: tooMany, Header: retryAfter("3")},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Exactly(3 * time.Second)},
			message: listed,
		},
		{
			name:  "429 with Retry-After as an HTTP date",
			fault: sandbox.Fault{Status: 429, Body: tooMany, Header: retryAfter(start.Add(4 * time.Second).UTC().Format(http.TimeFormat))},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Exactly(4 * time.Second)},
			message: listed,
		},
		{
			name:  "429 that does not lift",
			fault: sandbox.Fault{Status: 429, Body: tooMany, Header: retryAfter("5"), Times: 100},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 5, waits: []plannrtest.WaitCheck{plannrtest.Exactly(5 * time.Second), plannrtest.Exactly(5 * time.Second), plannrtest.Exactly(5 * time.Second), plannrtest.Exactly(5 * time.Second)},
			isError: true,
			message: `^Plannr rate-limited us \(429 Too Many Attempts\); retried 4 times over 20 s; try again in 5 s, and do not retry in a loop\.$`,
		},
		{
			name:  "503 then success",
			fault: sandbox.Fault{Status: 503, Body: unavailable},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
			message: listed,
		},
		{
			name:  "connection reset then success",
			fault: sandbox.Fault{Reset: true},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
			message: listed,
		},
		{
			name:    "connection reset that persists",
			fault:   sandbox.Fault{Reset: true, Times: 100},
			retries: 2,
			tool:    "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 3, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond), plannrtest.Between(time.Second)},
			isError: true,
			message: `^The connection to Plannr kept failing \((connection reset|the connection closed before an answer)\); retried twice over [0-9.]+ s\. Check the network, then try again in a minute\.$`,
		},
		{
			name:  "hang past the attempt timeout then success",
			fault: sandbox.Fault{Hang: true},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)}, abandoned: 1,
			message: listed,
		},
		{
			name:    "hang that persists",
			fault:   sandbox.Fault{Hang: true, Times: 100},
			retries: 1,
			tool:    "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)}, abandoned: 2,
			isError: true,
			message: `^Plannr did not answer in time; retried once over [0-9.]+ s\. It may be slow or unreachable; try again in a minute\.$`,
		},
		{
			name: "HTML 502 body",
			fault: sandbox.Fault{Status: 502, ContentType: "text/html", Times: 100,
				Body: "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"},
			tool: "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 5, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond), plannrtest.Between(time.Second), plannrtest.Between(2 * time.Second), plannrtest.Between(4 * time.Second)},
			isError: true,
			message: `^Plannr had a server error \(502 Bad Gateway\); retried 4 times over [0-9.]+ s\. Plannr said: "the answer was an HTML page, not JSON \(often a proxy or gateway error page\)"\. This is usually temporary; try again in a minute\.$`,
		},
		{
			name:  "empty 500 body",
			fault: sandbox.Fault{Status: 500},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 1,
			isError:  true,
			message:  `^Plannr had a server error \(500 Internal Server Error\)\. This is usually temporary; try again in a minute\.$`,
		},
		{
			name:  "truncated JSON body then success",
			fault: sandbox.Fault{Truncate: true, Body: `{"data":[{"uuid":"8ef67ca5-48`},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
			message: listed,
		},
		{
			name:    "truncated JSON body that persists",
			fault:   sandbox.Fault{Truncate: true, Body: `{"data":[{"uuid":"8ef67ca5-48`, Times: 100},
			retries: 1,
			tool:    "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
			isError: true,
			message: `^The connection to Plannr kept failing \(the answer was cut off\); retried once over [0-9.]+ s\.`,
		},
		{
			name:  "cut JSON body with a matching length",
			fault: sandbox.Fault{Status: 200, Body: `{"data":[{"uuid":"8ef67ca5-48`},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 1,
			isError:  true,
			message:  `^Plannr's answer was not the JSON this server expects: it was cut off on the way\. Try again in a minute\.$`,
		},
		{
			name:  "oversized body",
			fault: sandbox.Fault{Body: `{"data":[]}`, Size: plannr.DefaultMaxResponseBytes + 1},
			tool:  "list_oauth_connections", args: listArgs, method: "GET", path: faultListPath,
			attempts: 1,
			isError:  true,
			message:  `^Plannr's answer was larger than the 32 MiB this server reads, so it was discarded\. The server's operator can raise the limit with PLANNR_MAX_RESPONSE_BYTES`,
		},
		{
			name:  "rename 503 then success",
			fault: sandbox.Fault{Status: 503, Body: unavailable},
			tool:  "rename_oauth_connection", args: renameArgs, method: "PUT", path: faultConnPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
			message: `^Renamed the connection to "Fundment \(main\)"\.`,
		},
		{
			name:  "rename 503 that persists",
			fault: sandbox.Fault{Status: 503, Body: unavailable, Times: 100}, retries: 1,
			tool: "rename_oauth_connection", args: renameArgs, method: "PUT", path: faultConnPath,
			attempts: 2, waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
			isError: true,
			message: `^Plannr had a server error \(503 Service Unavailable\); retried once over [0-9.]+ s\. Plannr said: "Service Unavailable"\. This is usually temporary; try again in a minute\. The connection may or may not have been renamed: call list_oauth_connections to check before trying again\.$`,
		},
		{
			name: "rename 422",
			fault: sandbox.Fault{Status: 422, Times: 100,
				Body: `{"message":"The label has already been taken.","errors":{"label":["The label has already been taken."]}}`},
			tool: "rename_oauth_connection", args: renameArgs, method: "PUT", path: faultConnPath,
			attempts: 1,
			isError:  true,
			message:  `^Plannr rejected the change \(422\)\. Plannr said: "The label has already been taken\." Fix the arguments and call again\. Nothing was changed\.$`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := plannrtest.RetryPolicy()
			if tt.retries > 0 {
				policy.MaxRetries = tt.retries
			}
			if tt.fault.Hang {
				policy.AttemptTimeout = plannrtest.HangTimeout
			}
			env := newFaultEnv(t, start, plannr.WithRetry(policy))
			fault := tt.fault
			fault.Method, fault.Path = tt.method, tt.path
			env.Fake.Inject(fault)

			text, isError := env.call(t, tt.tool, tt.args)

			if isError != tt.isError {
				t.Errorf("isError = %v, want %v; text: %s", isError, tt.isError, text)
			}
			if !regexp.MustCompile(tt.message).MatchString(text) {
				t.Errorf("text = %q\nwant a match for %q", text, tt.message)
			}
			if n := env.Fake.Count(tt.method, tt.path); n != tt.attempts {
				t.Errorf("the fake saw %d attempts, want %d", n, tt.attempts)
			}
			plannrtest.CheckWaits(t, env.Clock.Sleeps(), tt.waits)
			if tt.abandoned > 0 {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				if err := env.Fake.Wait(ctx, func() bool { return len(env.Fake.Abandoned()) == tt.abandoned }); err != nil {
					t.Errorf("the fake saw %d requests abandoned, want %d", len(env.Fake.Abandoned()), tt.abandoned)
				}
			}
			if tt.method == "PUT" {
				want := 0
				if !tt.isError {
					want = 1
				}
				if n := env.Fake.Changes(faultUUID); n != want {
					t.Errorf("the fake's store changed %d times, want %d", n, want)
				}
			}
		})
	}
}

func TestToolCallHeldBackByTheRateLimiter(t *testing.T) {
	env := newFaultEnv(t, time.Now(), plannr.WithRateLimit(plannr.RateLimit{Requests: 1, Per: time.Minute}))
	if text, isError := env.call(t, "list_oauth_connections", map[string]any{}); isError {
		t.Fatalf("first call failed: %s", text)
	}
	text, isError := env.call(t, "list_oauth_connections", map[string]any{})
	want := regexp.MustCompile(`^This server is pacing its requests to stay within Plannr's rate limit, and the next free slot is [0-9]+ s away, later than this call may wait\. Nothing was sent to Plannr\. Try again in [0-9]+ s\.$`)
	if !isError || !want.MatchString(text) {
		t.Errorf("second call: isError=%v text=%q", isError, text)
	}
	if n := env.Fake.Count("GET", faultListPath); n != 1 {
		t.Errorf("the fake saw %d requests, want 1", n)
	}
}

// recordHandler passes every log record's message to a channel.
type recordHandler struct{ records chan<- slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.records <- r:
	default:
	}
	return nil
}

func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// TestCancelledToolCallAbortsTheUpstreamRequest cancels a tool call the way
// an MCP client does over stdio, with notifications/cancelled, and checks
// that the request to Plannr is dropped and the handler returns.
func TestCancelledToolCallAbortsTheUpstreamRequest(t *testing.T) {
	guard, stop := context.WithTimeout(t.Context(), 10*time.Second) // hang guard only
	defer stop()
	fake := sandbox.New()
	fake.Inject(sandbox.Fault{Method: "GET", Path: faultListPath, Hang: true})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	// Real clock and default policy: the hung attempt would only time out
	// after DefaultAttemptTimeout, so only the cancellation can end it first.
	api, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken), plannr.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	records := make(chan slog.Record, 16)
	toolset := tools.NewToolset(api, tools.Options{Logger: slog.New(recordHandler{records})})

	serverIn, clientOut := io.Pipe()
	clientIn, serverOut := io.Pipe()
	serverCtx, stopServer := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = server.NewStdioServer(toolset.NewServer(tools.ServerConfig{Version: "test"})).Listen(serverCtx, serverIn, serverOut)
	}()
	c := client.NewClient(transport.NewIO(clientIn, clientOut, io.NopCloser(strings.NewReader(""))))
	defer func() {
		c.Close()
		stopServer()
		serverIn.Close()
		serverOut.Close()
		<-served
	}()
	faultInitialize(t, c)

	callCtx, cancel := context.WithCancel(guard)
	returned := make(chan error, 1)
	go func() {
		var req mcp.CallToolRequest
		req.Params.Name = "list_oauth_connections"
		_, err := c.CallTool(callCtx, req)
		returned <- err
	}()
	if err := fake.Wait(guard, func() bool { return fake.Count("GET", faultListPath) == 1 }); err != nil {
		t.Fatal("the tool call never reached the fake")
	}
	cancel()

	select {
	case err := <-returned:
		if err == nil {
			t.Error("the cancelled call returned a result")
		}
	case <-guard.Done():
		t.Fatal("the cancelled call did not return")
	}
	if err := fake.Wait(guard, func() bool { return len(fake.Abandoned()) == 1 }); err != nil {
		t.Fatal("the fake never saw the upstream request's connection close")
	}
	// The server's handler must finish too, not linger until a timeout.
	for {
		select {
		case r := <-records:
			if r.Message == "tool call" {
				if n := fake.Count("GET", faultListPath); n != 1 {
					t.Errorf("the fake saw %d attempts, want 1: a cancelled call is not retried", n)
				}
				return
			}
		case <-guard.Done():
			t.Fatal("the tool handler did not return after the cancellation")
		}
	}
}
