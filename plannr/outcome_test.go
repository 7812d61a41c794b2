package plannr_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// A failed change says whether it may have been made: only what certainly
// changed nothing is reported as such.
func TestFailedChangesSayWhetherTheyMayHaveBeenMade(t *testing.T) {
	tests := []struct {
		name      string
		fault     sandbox.Fault
		call      func(context.Context, *plannr.Client) error
		unknown   bool
		changes   int // the fake's changes to the connection
		policyOff bool
	}{
		{name: "delete carried out, answer lost", fault: sandbox.Fault{Method: "DELETE", DropAnswer: true},
			call: deleteCall, unknown: true, changes: 1},
		{name: "rename carried out, answer lost, retries off", fault: sandbox.Fault{Method: "PUT", DropAnswer: true},
			call: renameCall, unknown: true, changes: 1, policyOff: true},
		{name: "delete refused with 404", fault: sandbox.Fault{Method: "DELETE", Status: 404, Body: `{"message":"No query results"}`},
			call: deleteCall},
		{name: "delete refused with 429 every time", fault: sandbox.Fault{Method: "DELETE", Status: 429, Body: `{"message":"Too Many Attempts."}`, Times: 10},
			call: deleteCall},
		{name: "rename refused with 422", fault: sandbox.Fault{Method: "PUT", Status: 422, Body: `{"message":"The label field is required."}`},
			call: renameCall},
		{name: "delete answered 500", fault: sandbox.Fault{Method: "DELETE", Status: 500, Body: `{"message":"Server Error"}`},
			call: deleteCall, unknown: true},
		{name: "delete timed out after it was sent", fault: sandbox.Fault{Method: "DELETE", Hang: true},
			call: deleteCall, unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := plannrtest.RetryPolicy()
			policy.AttemptTimeout = plannrtest.HangTimeout
			if tt.policyOff {
				policy = plannr.RetryPolicy{}
			}
			env := newRSEnv(t, plannr.WithRetry(policy))
			env.Fake.Inject(tt.fault)
			err := tt.call(context.Background(), env.Client)
			if err == nil {
				t.Fatal("the call succeeded")
			}
			if got := errors.Is(err, plannr.ErrOutcomeUnknown); got != tt.unknown {
				t.Errorf("errors.Is(%v, ErrOutcomeUnknown) = %v, want %v", err, got, tt.unknown)
			}
			if got := env.Fake.Changes(rsUUID); got != tt.changes {
				t.Errorf("the fake changed the connection %d times, want %d", got, tt.changes)
			}
		})
	}
}

func deleteCall(ctx context.Context, c *plannr.Client) error {
	return c.DeleteOAuthConnection(ctx, rsUUID)
}

func renameCall(ctx context.Context, c *plannr.Client) error {
	_, err := c.RenameOAuthConnection(ctx, rsUUID, "New label")
	return err
}

// A request that never left (no one listening) changed nothing.
func TestUnsentRequestChangedNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := plannr.NewClient(auth.PersonalAccessToken("token-123456789"), plannr.WithBaseURL("http://"+addr), plannr.WithRetry(plannr.RetryPolicy{}))
	if err != nil {
		t.Fatal(err)
	}
	err = c.DeleteOAuthConnection(context.Background(), rsUUID)
	if err == nil || errors.Is(err, plannr.ErrOutcomeUnknown) {
		t.Fatalf("err = %v, want a failure that is certain to have changed nothing", err)
	}
}

// An upstream that echoes the request's headers into its answers gets no
// secret back out: the answer is scrubbed as it is read, whatever the
// status, before any error quotes it.
func TestEchoedSecretsAreRedacted(t *testing.T) {
	const token = "pat-echo-secret-0123456789abcdef"
	const held = "client-secret-held-by-the-process"
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dump := r.Header.Get("Authorization") + " " + held
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/oauth/connections":
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"data":[{"uuid":"a","label":"` + dump + `","refresh_authorization_url":"https://x.example/?h=` + dump + `"}]}`))
		default:
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"` + dump + `","errors":{"label":["` + dump + `"]}}`))
		}
	})
	secrets := untrusted.NewSecrets()
	secrets.Set("client", held)
	srv := httptest.NewServer(echo)
	t.Cleanup(srv.Close)
	c, err := plannr.NewClient(auth.PersonalAccessToken(token), plannr.WithBaseURL(srv.URL), plannr.WithSecrets(secrets))
	if err != nil {
		t.Fatal(err)
	}
	conns, err := c.ListOAuthConnections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, renameErr := c.RenameOAuthConnection(context.Background(), "a", "x")
	var apiErr *plannr.ErrorResponse
	if !errors.As(renameErr, &apiErr) {
		t.Fatalf("rename: %v", renameErr)
	}
	for _, text := range []string{conns[0].Label, conns[0].RefreshAuthorizationURL, renameErr.Error(), apiErr.Message, strings.Join(apiErr.FieldMessages(), " ")} {
		if strings.Contains(text, token) || strings.Contains(text, held) {
			t.Errorf("a secret came back: %q", text)
		}
		if !strings.Contains(text, untrusted.Redacted) {
			t.Errorf("no redaction mark in %q", text)
		}
	}
}
