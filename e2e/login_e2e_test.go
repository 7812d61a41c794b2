package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// loginRun is one run of plannr-mcp login by the binary, with the test
// playing the browser.
type loginRun struct {
	code           int
	stdout, stderr string
	page           string
	pageStatus     int
}

// runLogin runs `plannr-mcp login --no-browser`, reads the URL it prints,
// lets tamper change it, and follows it as a browser would: to the fake's
// authorize endpoint, which redirects to the login's callback listener.
func (w *loginWorld) runLogin(t *testing.T, tamper func(string) string) loginRun {
	t.Helper()
	return playLogin(t, w.environ(), func(u string) (*http.Response, error) {
		if tamper != nil {
			u = tamper(u)
		}
		return http.Get(u)
	})
}

// playLogin runs `plannr-mcp login --no-browser` with env, and hands the
// URL it prints to browse, which plays the person's browser and returns
// the last page it was shown: the login's own callback page.
func playLogin(t *testing.T, env []string, browse func(authorizeURL string) (*http.Response, error)) loginRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "login", "--no-browser", "--login-timeout", "45s")
	cmd.Env = env
	var stderr plannrtest.SyncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	urls := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			stdout.WriteString(line + "\n")
			if strings.HasPrefix(line, "http") && strings.Contains(line, "/oauth/authorize?") {
				select {
				case urls <- line:
				default:
				}
			}
		}
	}()
	var run loginRun
	select {
	case u := <-urls:
		resp, err := browse(u)
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		run.page, run.pageStatus = string(page), resp.StatusCode
	case <-scanned:
		// stdout closed without a URL: the login exited early.
		_ = cmd.Wait()
		t.Fatalf("login printed no URL; stderr:\n%s", stderr.String())
	case <-ctx.Done():
		t.Fatalf("login printed no URL; stderr:\n%s", stderr.String())
	}
	<-scanned
	err = cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		run.code = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	run.stdout, run.stderr = stdout.String(), stderr.String()
	return run
}

// mcpServer is one running `plannr-mcp serve` process with an MCP client.
type mcpServer struct {
	client *client.Client
	stderr *plannrtest.SyncBuffer
}

// startServer launches the binary as an MCP client would.
func (w *loginWorld) startServer(t *testing.T) *mcpServer {
	t.Helper()
	stderr := &plannrtest.SyncBuffer{}
	bin := binary(t)
	c, err := client.NewStdioMCPClientWithOptions(bin, w.environ(), nil,
		transport.WithCommandFunc(func(ctx context.Context, command string, env, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = env // only this world's variables
			return cmd, nil
		}),
		transport.WithCommandStderrWriter(stderr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "login-test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("initialize: %v\nstderr:\n%s", err, stderr.String())
	}
	return &mcpServer{client: c, stderr: stderr}
}

// list calls list_oauth_connections and returns whether it failed and its text.
func (s *mcpServer) list(t *testing.T) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var req mcp.CallToolRequest
	req.Params.Name = "list_oauth_connections"
	res, err := s.client.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("tools/call: %v\nstderr:\n%s", err, s.stderr.String())
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	return res.IsError, strings.Join(text, "\n")
}

func TestLoginBinaryEndToEnd(t *testing.T) {
	w := newLoginWorld(t)
	run := w.runLogin(t, nil)
	if run.code != 0 {
		t.Fatalf("login exit %d\nstdout:\n%s\nstderr:\n%s", run.code, run.stdout, run.stderr)
	}
	if run.pageStatus != http.StatusOK || !strings.Contains(run.page, "You are logged in") {
		t.Errorf("browser page %d:\n%s", run.pageStatus, run.page)
	}
	for _, want := range []string{"Logged in to Plannr", "adviser@harbourwealth.example", "Harbour Wealth (admin)", w.configDir} {
		if !strings.Contains(run.stdout, want) {
			t.Errorf("login output lacks %q:\n%s", want, run.stdout)
		}
	}
	info, err := os.Stat(filepath.Join(w.configDir, "login.json"))
	if err != nil {
		t.Fatalf("no login stored: %v", err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("login file mode %04o, want 0600", info.Mode().Perm())
	}
	rec, err := w.store().Load()
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "login output", run.stdout+run.stderr+run.page, loginSecret, rec.AccessToken, rec.RefreshToken)

	// A following tool call, by another process, uses the login.
	server := w.startServer(t)
	if failed, text := server.list(t); failed {
		t.Fatalf("tool call after login failed: %s", text)
	}
	code, stdout, stderr := w.runCLIBinary(t, "auth", "status")
	if code != 0 || !strings.Contains(stdout, "Plannr accepts the credential: yes") {
		t.Errorf("auth status exit %d:\n%s%s", code, stdout, stderr)
	}
	assertNoSecret(t, "auth status", stdout+stderr+server.stderr.String(), loginSecret, rec.AccessToken, rec.RefreshToken)
}

func TestLoginBinaryRejectsAForgedState(t *testing.T) {
	w := newLoginWorld(t)
	run := w.runLogin(t, func(u string) string {
		p, _ := url.Parse(u)
		q := p.Query()
		q.Set("state", "forged")
		p.RawQuery = q.Encode()
		return p.String()
	})
	if run.code != 1 || !strings.Contains(run.stderr, "state does not match") || !strings.Contains(run.stderr, "nothing was stored") {
		t.Fatalf("exit %d\nstderr:\n%s", run.code, run.stderr)
	}
	if run.pageStatus != http.StatusBadRequest {
		t.Errorf("browser page %d, want 400", run.pageStatus)
	}
	if w.store().Exists() {
		t.Error("a login with a forged state stored something")
	}
	if n := w.fake.OAuthStats().CodeExchanges; n != 0 {
		t.Errorf("%d codes exchanged, want 0", n)
	}
}

// runCLIBinary runs the binary once in this world.
func (w *loginWorld) runCLIBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = w.environ()
	var stdout, stderr plannrtest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// Several server processes share one login while its access token expires
// again and again: each expiry causes exactly one refresh, and no refresh
// token is ever used twice.
func TestServersShareOneLoginAcrossExpiries(t *testing.T) {
	const (
		processes = 4
		lifetime  = 2 * time.Second
		margin    = lifetime / 10 // auth refreshes in a token's last tenth
		expiries  = 4
	)
	w := newLoginWorld(t, sandbox.WithTokenLifetimes(lifetime, time.Hour))
	seeded := w.seed(t)
	servers := make([]*mcpServer, processes)
	for i := range servers {
		servers[i] = w.startServer(t)
	}

	start := time.Now()
	deadline := start.Add(expiries*lifetime + lifetime/2)
	var wg sync.WaitGroup
	failures := make([]string, processes)
	calls := make([]int, processes)
	for i, s := range servers {
		wg.Go(func() {
			for calls[i] < 2000 && time.Now().Before(deadline) {
				if failed, text := s.list(t); failed {
					failures[i] = text
					return
				}
				calls[i]++
				time.Sleep(40 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i, f := range failures {
		if f != "" {
			t.Fatalf("process %d: a tool call failed after %d calls: %s\nstderr:\n%s", i, calls[i], f, servers[i].stderr.String())
		}
		if calls[i] == 0 {
			t.Fatalf("process %d made no call", i)
		}
	}

	stats := w.fake.OAuthStats()
	if stats.RefreshRejected != 0 || stats.RefreshReused != 0 {
		t.Fatalf("the fake refused %d refreshes (%d reused refresh tokens): processes refreshed with a spent token", stats.RefreshRejected, stats.RefreshReused)
	}
	if stats.Refreshes < expiries-1 {
		t.Fatalf("%d refreshes in %s with %s tokens; the calls did not span several expiries", stats.Refreshes, elapsed, lifetime)
	}
	// Exactly one refresh per expiry: none happened before the access
	// token it replaced was in its last tenth, so none duplicated another.
	for i, ev := range w.fake.RefreshEvents() {
		if early := ev.OldAccessExpiry.Sub(ev.At); early > margin {
			t.Errorf("refresh %d happened %s before the old token's expiry; want within %s", i, early, margin)
		}
	}
	if max := int(elapsed/(lifetime-margin)) + 1; stats.Refreshes > max {
		t.Errorf("%d refreshes in %s; at most %d expiries fit", stats.Refreshes, elapsed, max)
	}
	active := w.fake.ActiveRefreshTokens()
	rec, err := w.store().Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || rec.RefreshToken != active[0] {
		t.Errorf("the store does not hold the one live refresh token (%d live)", len(active))
	}
	var logs strings.Builder
	for _, s := range servers {
		logs.WriteString(s.stderr.String())
	}
	assertNoSecret(t, "the servers' stderr", logs.String(), loginSecret, seeded.AccessToken, seeded.RefreshToken, rec.AccessToken, rec.RefreshToken)
	if !strings.Contains(logs.String(), "refreshed the Plannr login") {
		t.Errorf("no server logged a refresh")
	}
	t.Logf("%d processes, %v calls, %d refreshes in %s", processes, calls, stats.Refreshes, elapsed.Round(time.Millisecond))
}

// A revoked login makes tool calls say to log in again; after a login in
// another process, the running server works again without a restart.
func TestRevokedLoginAndNewLoginWithoutRestart(t *testing.T) {
	w := newLoginWorld(t)
	if run := w.runLogin(t, nil); run.code != 0 {
		t.Fatalf("login exit %d:\n%s", run.code, run.stderr)
	}
	server := w.startServer(t)
	if failed, text := server.list(t); failed {
		t.Fatalf("first call: %s", text)
	}

	// The person withdraws plannr-mcp's access at Plannr: the access token
	// stops working long before its expiry, and so does the refresh token.
	w.fake.RevokeOAuthTokens()
	for range 2 {
		failed, text := server.list(t)
		if !failed || !strings.Contains(text, "run `plannr-mcp login`") || !strings.Contains(text, "expired or was revoked") {
			t.Fatalf("want a tool error telling the person to log in again; got %q", text)
		}
	}
	if n := w.fake.OAuthStats().RefreshRejected; n != 1 {
		t.Errorf("the revoked refresh token was sent %d times, want once", n)
	}

	if run := w.runLogin(t, nil); run.code != 0 {
		t.Fatalf("second login exit %d:\n%s", run.code, run.stderr)
	}
	if failed, text := server.list(t); failed {
		t.Fatalf("the running server did not pick up the new login: %s\nstderr:\n%s", text, server.stderr.String())
	}
}
