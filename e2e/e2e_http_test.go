package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Client tokens the HTTP end-to-end tests configure; like the Plannr token,
// no output of the server may ever contain them.
const (
	clientToken      = "e2e-client-token-7c9a0d2f51"
	otherClientToken = "e2e-client-token-other-93be"
)

var servingURL = regexp.MustCompile(`msg="serving MCP over HTTP" url=(http://127\.0\.0\.1:\d+/mcp)`)

// httpProcess is the binary serving MCP over HTTP.
type httpProcess struct {
	url    string
	cmd    *exec.Cmd
	stderr *plannrtest.SyncBuffer
	stdout *plannrtest.SyncBuffer
	exited chan struct{}
	// killed is set by kill, which a test uses to end the process abruptly.
	killed bool
}

// startHTTP starts the binary serving HTTP on a free loopback port and
// waits for the line that names its URL. When the test ends the process is
// sent SIGTERM and must exit 0, having logged no secret and written nothing
// to stdout.
func startHTTP(t testing.TB, env []string, args ...string) *httpProcess {
	t.Helper()
	if len(args) == 0 || args[0] != "--no-default-args" {
		args = append([]string{"serve", "--transport", "http", "--addr", "127.0.0.1:0"}, args...)
	} else {
		args = args[1:]
	}
	return startHTTPProcess(t, binary(t), servingURL, env, args...)
}

// startHTTPProcess is startHTTP for any binary, bin, with exactly args:
// urlLine finds the URL in what it logs, as its first submatch.
func startHTTPProcess(t testing.TB, bin string, urlLine *regexp.Regexp, env []string, args ...string) *httpProcess {
	t.Helper()
	p := &httpProcess{stderr: &plannrtest.SyncBuffer{}, stdout: &plannrtest.SyncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, p.stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if code := p.stop(t); code != 0 && !p.killed {
			t.Errorf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, p.stderr.String())
		}
		for _, secret := range []string{testToken, clientToken, otherClientToken} {
			if strings.Contains(p.stderr.String(), secret) {
				t.Errorf("the server's stderr contains a token:\n%s", p.stderr.String())
			}
		}
		if p.stdout.String() != "" {
			t.Errorf("the HTTP server wrote to stdout: %q", p.stdout.String())
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		if m := urlLine.FindStringSubmatch(p.stderr.String()); m != nil {
			p.url = m[1]
			// plannr-mcp names its URL once, and in no other line.
			if n := strings.Count(p.stderr.String(), "url="); urlLine == servingURL && n != 1 {
				t.Errorf("%d lines name the URL, want 1", n)
			}
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("the server exited before serving; stderr:\n%s", p.stderr.String())
		case <-deadline:
			t.Fatalf("the server did not log its URL within 30s; stderr:\n%s", p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, once, and returns the exit code.
func (p *httpProcess) stop(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = p.cmd.Process.Kill()
		}
		select {
		case <-p.exited:
		case <-time.After(60 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("the server did not exit within 60s of SIGTERM")
		}
	}
	return p.cmd.ProcessState.ExitCode()
}

// connectHTTP connects the official Go SDK client over streamable HTTP.
func connectHTTP(t *testing.T, url string, rt http.RoundTripper, protocolVersion string) *sdk.ClientSession {
	t.Helper()
	return connectHTTPWith(t, url, rt, protocolVersion, nil)
}

// connectHTTPWith is connectHTTP with client options, such as an
// elicitation handler.
func connectHTTPWith(t *testing.T, url string, rt http.RoundTripper, protocolVersion string, opts *sdk.ClientOptions) *sdk.ClientSession {
	t.Helper()
	session, err := tryConnectHTTP(url, rt, protocolVersion, opts)
	if err != nil {
		t.Fatalf("connecting over HTTP: %v", err)
	}
	t.Cleanup(func() { _ = session.Close() })
	return session
}

func tryConnectHTTP(url string, rt http.RoundTripper, protocolVersion string, opts *sdk.ClientOptions) (*sdk.ClientSession, error) {
	client := sdk.NewClient(&sdk.Implementation{Name: "e2e-test", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	transport := &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1}
	return client.Connect(ctx, transport, &sdk.ClientSessionOptions{ProtocolVersion: protocolVersion})
}

// post sends one raw JSON-RPC message.
func post(t *testing.T, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	resp, b, err := rawCall(url, body, header)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp, b
}

// rawCall is post for any goroutine: it reports a failure as an error.
func rawCall(url, body string, header map[string]string) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

const (
	rawInitialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	rawList       = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_oauth_connections","arguments":{},"_meta":{` +
		`"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},` +
		`"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}}}`
)

func TestHTTPEndToEnd(t *testing.T) {
	tests := []struct {
		version string
		env     []string
		args    []string
	}{
		// Configured by environment, started without a command.
		{"2026-07-28", []string{"PLANNR_MCP_TRANSPORT=http", "PLANNR_MCP_ADDR=127.0.0.1:0", "PLANNR_MCP_AUTH_TOKENS=" + otherClientToken + "," + clientToken}, []string{"--no-default-args"}},
		// Configured by flags.
		{"2025-11-25", []string{"PLANNR_MCP_AUTH_TOKENS=" + clientToken}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			fake, url := startFake(t)
			env := append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken)
			srv := startHTTP(t, append(env, tt.env...), tt.args...)
			session := connectHTTP(t, srv.url, plannrtest.Bearer{Token: clientToken}, tt.version)

			init := session.InitializeResult()
			if init == nil || init.ServerInfo == nil || init.ServerInfo.Name != "plannr-mcp" || init.Capabilities.Tools == nil {
				t.Fatalf("initialize result: %+v", init)
			}
			if (session.ID() != "") != (tt.version == "2025-11-25") {
				t.Errorf("session id %q on protocol %s", session.ID(), tt.version)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			list, err := session.ListTools(ctx, nil)
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			names := map[string]bool{}
			for _, tool := range list.Tools {
				names[tool.Name] = true
			}
			if !names["list_oauth_connections"] || !names["rename_oauth_connection"] {
				t.Fatalf("tools/list: %v", names)
			}

			res := callTool(t, session, "list_oauth_connections", map[string]any{})
			if res.IsError || !strings.Contains(resultText(res), "My Fundment Account 1") {
				t.Fatalf("list: %s", resultText(res))
			}
			const uuid = "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c"
			res = callTool(t, session, "rename_oauth_connection", map[string]any{"uuid": uuid, "label": "Fundment over HTTP"})
			if res.IsError {
				t.Fatalf("rename: %s", resultText(res))
			}
			if rec, _ := fake.Connection(uuid); rec.Label != "Fundment over HTTP" {
				t.Errorf("fake store label = %q; the rename did not reach Plannr", rec.Label)
			}
			for _, r := range fake.Requests() {
				if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
					t.Errorf("%s %s reached Plannr with Authorization %q; want the server's own Plannr token", r.Method, r.Path, got)
				}
			}
		})
	}
}

func TestHTTPRejections(t *testing.T) {
	fake, url := startFake(t)
	env := append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken, "PLANNR_MCP_AUTH_TOKENS="+clientToken)
	srv := startHTTP(t, env)
	port := srv.url[strings.LastIndex(srv.url, ":")+1 : len(srv.url)-len("/mcp")]
	auth := "Bearer " + clientToken
	modernHeaders := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "list_oauth_connections"}
	with := func(base map[string]string, kv ...string) map[string]string {
		h := map[string]string{}
		for k, v := range base {
			h[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}

	t.Run("wrong token with the SDK client", func(t *testing.T) {
		_, err := tryConnectHTTP(srv.url, plannrtest.Bearer{Token: "e2e-client-token-wrong-000"}, "2025-11-25", nil)
		if err == nil {
			t.Fatal("connected with a wrong token")
		}
	})
	tests := []struct {
		name       string
		body       string
		header     map[string]string
		wantStatus int
		wantHeader string
	}{
		{"no token", rawList, modernHeaders, http.StatusUnauthorized, "Bearer"},
		{"wrong token", rawList, with(modernHeaders, "Authorization", "Bearer e2e-client-token-wrong-000"), http.StatusUnauthorized, `Bearer realm="plannr-mcp", error="invalid_token"`},
		{"a Plannr token is not a client token", rawList, with(modernHeaders, "Authorization", "Bearer "+testToken), http.StatusUnauthorized, "Bearer"},
		{"foreign Host", rawList, with(modernHeaders, "Authorization", auth, "Host", "rebound.attacker.example:"+port), http.StatusForbidden, ""},
		{"foreign Origin", rawList, with(modernHeaders, "Authorization", auth, "Origin", "https://attacker.example"), http.StatusForbidden, ""},
		{"oversized body", `{"jsonrpc":"2.0","id":3,"method":"ping","params":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`, map[string]string{"Authorization": auth}, http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, srv.url, tt.body, tt.header)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tt.wantHeader) || (tt.wantHeader == "") != (got == "") {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantHeader)
			}
		})
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d requests reached Plannr; every request was refused", n)
	}
	// The same call with the right token does reach Plannr: the refusals
	// above were for their reasons, not for a malformed request.
	if resp, body := post(t, srv.url, rawList, with(modernHeaders, "Authorization", auth)); resp.StatusCode != http.StatusOK || !strings.Contains(body, "My Fundment Account 1") {
		t.Fatalf("the accepted call: %d %s", resp.StatusCode, body)
	}
	if fake.Count(http.MethodGet, "/api/v1/oauth/connections") != 1 {
		t.Fatal("the accepted call did not reach Plannr")
	}
	resp, err := http.Get(strings.TrimSuffix(srv.url, "/mcp") + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, want := range []string{`reason="no client token"`, `reason="wrong client token"`, `reason="Origin not allowed"`, "status=413"} {
		if !strings.Contains(srv.stderr.String(), want) {
			t.Errorf("stderr lacks %s:\n%s", want, srv.stderr.String())
		}
	}
}

// alternating sends each request to the next of several servers in turn,
// as a load balancer without affinity does.
type alternating struct {
	hosts []string
	next  atomic.Int64
	sent  []atomic.Int64
	base  http.RoundTripper
}

func newAlternating(base http.RoundTripper, urls ...string) *alternating {
	a := &alternating{sent: make([]atomic.Int64, len(urls)), base: base}
	for _, u := range urls {
		a.hosts = append(a.hosts, strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/mcp"))
	}
	return a
}

func (a *alternating) RoundTrip(r *http.Request) (*http.Response, error) {
	i := int(a.next.Add(1)-1) % len(a.hosts)
	a.sent[i].Add(1)
	r = r.Clone(r.Context())
	r.URL.Host, r.Host = a.hosts[i], a.hosts[i]
	return a.base.RoundTrip(r)
}

func TestHTTPStatelessReplicas(t *testing.T) {
	for _, version := range []string{"2026-07-28", "2025-11-25"} {
		t.Run(version, func(t *testing.T) {
			fake, url := startFake(t)
			env := append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken, "PLANNR_MCP_AUTH_TOKENS="+clientToken)
			one := startHTTP(t, env, "--stateless")
			two := startHTTP(t, append(env, "PLANNR_MCP_STATELESS=true"))
			lb := newAlternating(plannrtest.Bearer{Token: clientToken}, one.url, two.url)
			session := connectHTTP(t, one.url, lb, version)
			if session.ID() != "" {
				t.Errorf("a stateless server issued session id %q", session.ID())
			}

			const uuid = "0b96d72c-d9de-40fb-9beb-de30a48c0160"
			for i := range 10 {
				label := fmt.Sprintf("replica call %d", i)
				res := callTool(t, session, "rename_oauth_connection", map[string]any{"uuid": uuid, "label": label})
				if res.IsError {
					t.Fatalf("call %d: %s", i, resultText(res))
				}
				res = callTool(t, session, "list_oauth_connections", map[string]any{})
				if res.IsError || !strings.Contains(resultText(res), label) {
					t.Fatalf("call %d: list lacks %q: %s", i, label, resultText(res))
				}
			}
			if a, b := lb.sent[0].Load(), lb.sent[1].Load(); a < 10 || b < 10 {
				t.Fatalf("requests per server: %d and %d; both should have answered", a, b)
			}
			if n := fake.Count(http.MethodPut, "/api/v1/oauth/connections/"+uuid); n != 10 {
				t.Errorf("%d renames reached Plannr, want 10", n)
			}
		})
	}
}

// The default, stateful mode needs affinity: a legacy session opened on
// one server is unknown to another. This is what --stateless is for.
func TestHTTPStatefulNeedsAffinity(t *testing.T) {
	_, url := startFake(t)
	env := append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken, "PLANNR_MCP_AUTH_TOKENS="+clientToken)
	one, two := startHTTP(t, env), startHTTP(t, env)
	lb := newAlternating(plannrtest.Bearer{Token: clientToken}, one.url, two.url)
	session, err := tryConnectHTTP(one.url, lb, "2025-11-25", nil)
	if err == nil {
		defer session.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = session.ListTools(ctx, nil)
	}
	if err == nil || !strings.Contains(err.Error(), "session not found") {
		t.Fatalf("a stateful session across two servers without affinity: %v; want session not found", err)
	}
}

func TestHTTPSandbox(t *testing.T) {
	srv := startHTTP(t, baseEnv(t), "--sandbox")
	session := connectHTTP(t, srv.url, plannrtest.Bearer{}, "2025-11-25")
	res := callTool(t, session, "list_oauth_connections", map[string]any{})
	if res.IsError || !strings.Contains(resultText(res), "My Fundment Account 1") {
		t.Fatalf("list in the sandbox: %s", resultText(res))
	}
	if !strings.Contains(srv.stderr.String(), "SANDBOX") || !strings.Contains(srv.stderr.String(), "no client tokens configured") {
		t.Errorf("stderr does not warn about the sandbox and the missing client tokens:\n%s", srv.stderr.String())
	}
}

func TestHTTPTokenFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "client-tokens")
	if err := os.WriteFile(file, []byte("# the team\n"+otherClientToken+"\n"+clientToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startHTTP(t, baseEnv(t), "--sandbox", "--auth-token-file", file)
	connectHTTP(t, srv.url, plannrtest.Bearer{Token: clientToken}, "2026-07-28")
	connectHTTP(t, srv.url, plannrtest.Bearer{Token: otherClientToken}, "2025-11-25")
	if _, err := tryConnectHTTP(srv.url, plannrtest.Bearer{}, "2026-07-28", nil); err == nil {
		t.Fatal("connected without a token")
	}
}

func TestHTTPStartupErrors(t *testing.T) {
	dir := t.TempDir()
	// A flag or variable of the wrong form is a usage error (exit 2); a
	// setting that is well formed but refused when serving starts exits 1.
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"all interfaces without client tokens", nil, []string{"--addr", "0.0.0.0:0"}, 1, "PLANNR_MCP_AUTH_TOKENS"},
		{"a public name without client tokens", nil, []string{"--addr", "mcp.example.com:8080"}, 1, "refusing to serve on mcp.example.com:8080"},
		{"short client token", []string{"PLANNR_MCP_AUTH_TOKENS=tooshort"}, nil, 2, "shorter than 16"},
		{"missing token file", nil, []string{"--auth-token-file", filepath.Join(dir, "none")}, 2, "reading client token file"},
		{"unknown transport", nil, []string{"--transport", "carrier-pigeon"}, 2, "use stdio or http"},
		{"bad duration", nil, []string{"--read-timeout", "soon"}, 2, "--read-timeout"},
		{"bad body limit", nil, []string{"--max-body-bytes", "0"}, 2, "--max-body-bytes"},
		{"bad stateless value", []string{"PLANNR_MCP_STATELESS=perhaps"}, nil, 2, "PLANNR_MCP_STATELESS"},
		{"bad origin", nil, []string{"--allowed-origins", "https://app.example.com/path"}, 1, "without a path"},
		{"bad proxy", nil, []string{"--trusted-proxies", "the-proxy"}, 2, "--trusted-proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--sandbox", "--transport", "http", "--addr", "127.0.0.1:0"}, tt.args...)
			code, stdout, stderr := runCLI(t, append(baseEnv(t), tt.env...), args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
			if strings.Contains(stderr, "serving MCP") || stdout != "" {
				t.Fatalf("served anyway: stdout %q, stderr %q", stdout, stderr)
			}
			if strings.Contains(stderr, "tooshort") {
				t.Fatalf("the error shows the token: %q", stderr)
			}
		})
	}
}
