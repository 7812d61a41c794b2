package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// An MCP client starts the server whenever a person opens a chat, and waits
// for initialize before anything else. Nothing Plannr-related may stand in
// that path: no account discovery, no token refresh, no request at all.
// These tests hold the server to it, with a request log that would show any
// request, and check that the work happens lazily on the first tool call.

// handshakeOnly speaks the opening of a session to a spawned server, as a
// client does before its first tool call, and checks after each step that
// the fake has received nothing.
func handshakeOnly(t *testing.T, p *rpcProc, fake *sandbox.Server) {
	t.Helper()
	steps := []struct {
		name     string
		msg      []byte
		response bool
	}{
		{"initialize", msgInitialize, true},
		{"notifications/initialized", msgInitialized, false},
		{"tools/list", msgToolsList, true},
		{"ping", []byte(`{"jsonrpc":"2.0","id":2,"method":"ping"}` + "\n"), true},
	}
	for _, s := range steps {
		if !s.response {
			if err := p.send(s.msg); err != nil {
				t.Fatal(err)
			}
			continue
		}
		resp, err := p.roundTrip(s.msg)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !bytes.Contains(resp, []byte(`"result"`)) {
			t.Fatalf("%s answered %s", s.name, resp)
		}
		if reqs := fake.Requests(); len(reqs) != 0 {
			t.Fatalf("by the %s response the server had sent %d requests to Plannr, first %s %s; want none before a tool call",
				s.name, len(reqs), reqs[0].Method, reqs[0].Path)
		}
	}
}

// firstList makes the session's first tool call.
func firstList(t *testing.T, p *rpcProc) []byte {
	t.Helper()
	resp, err := p.roundTrip([]byte(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_oauth_connections","arguments":{}}}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func startServerProcess(t *testing.T, env []string) *rpcProc {
	t.Helper()
	p, err := startRPC(binary(t), env, "serve")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	return p
}

func TestInitializeSendsNothingToPlannr(t *testing.T) {
	t.Run("personal access token", func(t *testing.T) {
		fake, url := startFake(t)
		p := startServerProcess(t, append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken))
		handshakeOnly(t, p, fake)
		if resp := firstList(t, p); bytes.Contains(resp, []byte(`"isError":true`)) {
			t.Fatalf("first call failed: %s", resp)
		}
		if n := fake.Count("GET", "/api/v1/oauth/connections"); n != 1 {
			t.Errorf("the first call sent %d list requests; want 1", n)
		}
		if _, err := p.stop(); err != nil {
			t.Fatal(err)
		}
	})

	// A stored OAuth2 login whose access token has expired needs a refresh
	// before any call can succeed. It must wait for that call.
	t.Run("OAuth2 login due for a refresh", func(t *testing.T) {
		w := newLoginWorld(t)
		rec := w.seed(t)
		rec.Expiry = time.Now().Add(-time.Hour)
		if err := w.store().SaveLocked(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		p := startServerProcess(t, w.environ())
		handshakeOnly(t, p, w.fake)
		if n := w.fake.OAuthStats().Refreshes; n != 0 {
			t.Fatalf("the login was refreshed %d times before any tool call", n)
		}
		if resp := firstList(t, p); bytes.Contains(resp, []byte(`"isError":true`)) {
			t.Fatalf("first call failed: %s\nstderr:\n%s", resp, p.stderr)
		}
		if n := w.fake.OAuthStats().Refreshes; n != 1 {
			t.Errorf("the first call refreshed the login %d times; want 1", n)
		}
		if _, err := p.stop(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("HTTP", func(t *testing.T) {
		fake, url := startFake(t)
		srv := startHTTP(t, append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken, "PLANNR_MCP_AUTH_TOKENS="+clientToken))
		header := map[string]string{"Authorization": "Bearer " + clientToken}
		steps := []struct{ name, msg string }{
			{"initialize", rawInitialize},
			{"notifications/initialized", `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
			{"tools/list", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`},
			{"ping", `{"jsonrpc":"2.0","id":3,"method":"ping"}`},
		}
		for _, s := range steps {
			resp, body := post(t, srv.url, s.msg, header)
			if resp.StatusCode/100 != 2 {
				t.Fatalf("%s answered %s: %s", s.name, resp.Status, body)
			}
			if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
				header["Mcp-Session-Id"] = id
				header["Mcp-Protocol-Version"] = "2025-11-25"
			}
			if reqs := fake.Requests(); len(reqs) != 0 {
				t.Fatalf("by the %s response the server had sent %d requests to Plannr, first %s %s; want none before a tool call",
					s.name, len(reqs), reqs[0].Method, reqs[0].Path)
			}
		}
		resp, body := post(t, srv.url, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_oauth_connections","arguments":{}}}`, header)
		if resp.StatusCode != 200 || !strings.Contains(body, "My Fundment Account 1") {
			t.Fatalf("first call answered %s: %s", resp.Status, body)
		}
		if n := fake.Count("GET", "/api/v1/oauth/connections"); n != 1 {
			t.Errorf("the first call sent %d list requests; want 1", n)
		}
	})
}
