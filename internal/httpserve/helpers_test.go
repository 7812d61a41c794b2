package httpserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// Client tokens the tests configure; no log may ever contain them.
const (
	tokenA = "client-token-alpha-0123456789"
	tokenB = "client-token-bravo-0123456789"
)

// Protocol versions the tests speak: the stateless one, with
// server/discover, and the last one with initialize and sessions.
const (
	modern = "2026-07-28"
	legacy = "2025-11-25"
)

// testServer is a Server serving the real tools, backed by a fake Plannr,
// on a loopback port.
type testServer struct {
	*Server
	url  string
	fake *sandbox.Server
	logs *plannrtest.SyncBuffer
	stop context.CancelFunc
	done chan error
}

// startServer serves cfg (its Addr is ignored) on 127.0.0.1 and stops it
// when the test ends, failing the test if shutdown was not clean.
func startServer(t testing.TB, cfg Config, fakeOpts ...sandbox.Option) *testServer {
	t.Helper()
	fake := sandbox.New(append([]sandbox.Option{sandbox.WithRateLimit(0)}, fakeOpts...)...)
	upstream := httptest.NewServer(fake)
	t.Cleanup(upstream.Close)
	client, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken),
		plannr.WithBaseURL(upstream.URL), plannr.WithRateLimit(plannr.RateLimit{}))
	if err != nil {
		t.Fatal(err)
	}
	mcpServer := tools.NewToolset(client, tools.Options{}).NewServer(tools.ServerConfig{Version: "test"})

	logs := &plannrtest.SyncBuffer{}
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(mcpServer, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ts := &testServer{Server: s, url: "http://" + ln.Addr().String() + Endpoint, fake: fake, logs: logs, stop: stop, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := ts.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		for _, secret := range []string{tokenA, tokenB, sandbox.SandboxToken} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the logs contain a token:\n%s", logs.String())
			}
		}
	})
	return ts
}

// shutdown stops the server and returns what Serve returned; it may be
// called more than once.
func (ts *testServer) shutdown() error {
	ts.stop()
	select {
	case err, ok := <-ts.done:
		if ok {
			close(ts.done)
			return err
		}
		return nil
	case <-time.After(60 * time.Second):
		return errors.New("Serve did not return within 60s of shutdown")
	}
}

// connect opens an MCP session with the official Go SDK client.
func connect(t testing.TB, url, token, version string) *sdk.ClientSession {
	t.Helper()
	session, err := tryConnect(url, token, version, http.DefaultTransport)
	if err != nil {
		t.Fatalf("connecting with protocol %s: %v", version, err)
	}
	t.Cleanup(func() { _ = session.Close() })
	return session
}

// tryConnect connects over base; nil means http.DefaultTransport.
func tryConnect(url, token, version string, base http.RoundTripper) (*sdk.ClientSession, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "httpserve-test", Version: "1"}, nil)
	transport := &sdk.StreamableClientTransport{
		Endpoint:   url,
		HTTPClient: &http.Client{Transport: plannrtest.Bearer{Token: token, Base: base}},
		MaxRetries: -1,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return client.Connect(ctx, transport, &sdk.ClientSessionOptions{ProtocolVersion: version})
}

// call makes one tool call and decodes its structured content into out.
func call(ctx context.Context, session *sdk.ClientSession, name string, args map[string]any, out any) error {
	res, err := session.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if res.IsError {
		var text []string
		for _, c := range res.Content {
			if tc, ok := c.(*sdk.TextContent); ok {
				text = append(text, tc.Text)
			}
		}
		return fmt.Errorf("%s answered with a tool error: %s", name, strings.Join(text, " "))
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// rawRequest sends one HTTP request to the server as an MCP client would.
type rawRequest struct {
	method  string
	path    string // default Endpoint
	token   string
	body    string
	headers map[string]string
	host    string
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func listToolsBody(id int) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, id)
}

func (ts *testServer) do(t testing.TB, rr rawRequest) (*http.Response, string) {
	t.Helper()
	url := ts.url
	if rr.path != "" {
		url = strings.TrimSuffix(ts.url, Endpoint) + rr.path
	}
	if rr.method == "" {
		rr.method = http.MethodPost
	}
	var body io.Reader
	if rr.body != "" {
		body = strings.NewReader(rr.body)
	}
	req, err := http.NewRequest(rr.method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if rr.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	if rr.token != "" {
		req.Header.Set("Authorization", "Bearer "+rr.token)
	}
	for k, v := range rr.headers {
		req.Header.Set(k, v)
	}
	if rr.host != "" {
		req.Host = rr.host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rr.method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// initialize opens a session by hand and returns its id.
func (ts *testServer) initialize(t testing.TB, token string) (string, int) {
	t.Helper()
	resp, body := ts.do(t, rawRequest{token: token, body: initializeBody})
	if resp.StatusCode == http.StatusOK && !strings.Contains(body, `"protocolVersion"`) {
		t.Fatalf("initialize answered 200 with %s", body)
	}
	return resp.Header.Get("Mcp-Session-Id"), resp.StatusCode
}

// plannrtestDelay makes the fake's next list answer late.
func plannrtestDelay(d time.Duration) sandbox.Fault {
	return sandbox.Fault{Method: http.MethodGet, Path: "/api/v1/oauth/connections", Delay: d}
}

// streamWatch reports each GET stream the server accepts, so that a test
// can wait until a client's standalone stream is open.
type streamWatch struct {
	opened chan struct{}
}

func newStreamWatch() *streamWatch { return &streamWatch{opened: make(chan struct{}, 16)} }

func (sw *streamWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
		sw.opened <- struct{}{}
	}
	return resp, err
}

// wait waits for n streams to open.
func (sw *streamWatch) wait(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case <-sw.opened:
		case <-time.After(30 * time.Second):
			t.Fatal("the client's GET stream did not open within 30s")
		}
	}
}
