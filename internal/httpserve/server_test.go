package httpserve

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// waitForRequest waits until the fake Plannr has received a list request.
func waitForRequest(t *testing.T, ts *testServer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for ts.fake.Count(http.MethodGet, "/api/v1/oauth/connections") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached Plannr")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Shutdown lets a call in flight finish, even while another session holds
// a GET stream open, and refuses new connections meanwhile.
func TestShutdownLetsCallsFinish(t *testing.T) {
	for _, version := range []string{legacy, modern} {
		t.Run(version, func(t *testing.T) {
			ts := startServer(t, Config{ShutdownTimeout: 30 * time.Second})
			// A legacy session of the SDK client holds a GET stream open.
			watch := newStreamWatch()
			other, err := tryConnect(ts.url, "", legacy, watch)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			session, err := tryConnect(ts.url, "", version, watch)
			if err != nil {
				t.Fatal(err)
			}
			defer session.Close()
			streams := 1
			if version == legacy {
				streams = 2
			}
			watch.wait(t, streams)
			ts.fake.Inject(plannrtestDelay(2 * time.Second))

			result := make(chan error, 1)
			go func() {
				var out struct{ Count int }
				err := call(context.Background(), session, "list_oauth_connections", map[string]any{}, &out)
				if err == nil && out.Count == 0 {
					err = errors.New("no connections listed")
				}
				result <- err
			}()
			waitForRequest(t, ts)
			served := make(chan error, 1)
			go func() { served <- ts.shutdown() }()

			// New connections are refused while the call runs.
			deadline := time.Now().Add(time.Second)
			for {
				conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(ts.url, "http://"), Endpoint))
				if err != nil {
					break
				}
				conn.Close()
				if time.Now().After(deadline) {
					t.Fatal("the listener still accepts connections a second after shutdown began")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := <-result; err != nil {
				t.Fatalf("the call in flight failed: %v", err)
			}
			if err := <-served; err != nil {
				t.Fatalf("Serve: %v", err)
			}
		})
	}
}

// A call that outlives the shutdown timeout is cut off, and Serve says so.
func TestShutdownTimeout(t *testing.T) {
	ts := startServer(t, Config{ShutdownTimeout: 200 * time.Millisecond})
	session := connect(t, ts.url, "", modern)
	ts.fake.Inject(plannrtestDelay(time.Minute))
	result := make(chan error, 1)
	go func() {
		_, err := session.CallTool(context.Background(), &sdk.CallToolParams{Name: "list_oauth_connections", Arguments: map[string]any{}})
		result <- err
	}()
	waitForRequest(t, ts)
	err := ts.shutdown()
	if err == nil || !strings.Contains(err.Error(), "cut off") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve returned %v; want a shutdown timeout", err)
	}
	if err := <-result; err == nil {
		t.Fatal("the cut-off call succeeded")
	}
}

func TestNewRefusesExposureWithoutTokens(t *testing.T) {
	tests := []struct {
		addr   string
		tokens []string
		ok     bool
	}{
		{"127.0.0.1:8080", nil, true},
		{"localhost:8080", nil, true},
		{"[::1]:8080", nil, true},
		{"127.0.0.2:8080", nil, true},
		{"", nil, true}, // the default, 127.0.0.1:8080
		{"0.0.0.0:8080", nil, false},
		{":8080", nil, false},
		{"[::]:8080", nil, false},
		{"192.0.2.10:8080", nil, false},
		{"mcp.example.com:8080", nil, false},
		{"0.0.0.0:8080", []string{tokenA}, true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			s, err := New(server.NewMCPServer("test", "1"), Config{Addr: tt.addr, Tokens: tt.tokens})
			if s != nil {
				s.close()
			}
			if tt.ok != (err == nil) {
				t.Fatalf("New: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrNoClientTokens) {
				t.Fatalf("error %v does not wrap ErrNoClientTokens", err)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"short token", Config{Tokens: []string{"abc123"}}, "shorter than 16"},
		{"token with a space", Config{Tokens: []string{"client token 0123456789"}}, "visible ASCII"},
		{"origin with a path", Config{AllowedOrigins: []string{"https://app.example.com/"}}, "without a path"},
		{"origin without a scheme", Config{AllowedOrigins: []string{"app.example.com"}}, "scheme://host"},
		{"wildcard origin", Config{AllowedOrigins: []string{"*"}}, "scheme://host"},
		{"negative body limit", Config{MaxBodyBytes: -1}, "positive"},
		{"negative timeout", Config{ReadTimeout: -time.Second}, "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(server.NewMCPServer("test", "1"), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v; want an error containing %q", err, tt.want)
			}
			for _, tok := range tt.cfg.Tokens {
				if strings.Contains(err.Error(), tok) {
					t.Fatalf("the error shows the token: %v", err)
				}
			}
		})
	}
}

func TestTokens(t *testing.T) {
	dir := t.TempDir()
	file := func(content string) string {
		p := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		list    string // for ParseTokens
		file    string // for ReadTokenFile, when non-empty
		want    []string
		wantErr string
	}{
		{name: "empty list", list: "", want: nil},
		{name: "list", list: " " + tokenA + " ,," + tokenB + ",", want: []string{tokenA, tokenB}},
		{name: "short in a list", list: tokenA + ",tiny", wantErr: "token 2 of the list"},
		{name: "file", file: "# team tokens\n" + tokenA + "\n\n  " + tokenB + "  \n", want: []string{tokenA, tokenB}},
		{name: "file with CRLF", file: tokenA + "\r\n", want: []string{tokenA}},
		{name: "empty file", file: "# nothing\n\n", wantErr: "holds no token"},
		{name: "bad line", file: tokenA + "\nnot a token at all\n", wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var err error
			if tt.file != "" {
				got, err = ReadTokenFile(file(tt.file))
			} else {
				got, err = ParseTokens(tt.list)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tokenA) || strings.Contains(err.Error(), "tiny") || strings.Contains(err.Error(), "not a token") {
					t.Fatalf("the error shows a token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTokenSetMatch(t *testing.T) {
	ts, err := newTokenSet([]string{tokenA, tokenB, tokenA})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		presented string
		want      clientID
		ok        bool
	}{
		{tokenA, 0, true},
		{tokenB, 1, true},
		{tokenA + "x", 0, false},
		{"", 0, false},
		{strings.ToUpper(tokenA), 0, false},
	}
	for _, tt := range tests {
		id, ok := ts.match(tt.presented)
		if ok != tt.ok || (ok && id != tt.want) {
			t.Errorf("match(%q) = %d, %v; want %d, %v", tt.presented, id, ok, tt.want, tt.ok)
		}
	}
}

func TestRedactSessions(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(redactSessions{slog.NewTextHandler(&buf, nil)})
	logger.With("sessionID", "SECRET1").Info("with", "session", "SECRET2", "other", "kept")
	logger.Info("plain", "sessionId", "SECRET3")
	out := buf.String()
	if strings.Contains(out, "SECRET") || !strings.Contains(out, "other=kept") || strings.Count(out, "[redacted]") != 3 {
		t.Fatalf("logs: %s", out)
	}
}
