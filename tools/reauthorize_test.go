package tools

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// setupReauthorize returns a toolset over a fake whose connections have
// re-authorization pages of its own, on the real clock, and the fake.
func setupReauthorize(t *testing.T) (*Toolset, *sandbox.Server) {
	t.Helper()
	fake := sandbox.New(sandbox.WithReauthorizePage(), sandbox.WithRateLimit(0))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken), plannr.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return NewToolset(client, Options{ReauthorizeWait: 3 * time.Second}), fake
}

func callReauthorize(t *testing.T, ts *Toolset, ctx context.Context, uuid string, mrtr mcp.MultiRoundTripParams) *mcp.CallToolResult {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = ReauthorizeToolName
	req.Params.RawArguments = json.RawMessage(`{"uuid":"` + uuid + `"}`)
	req.Params.MultiRoundTripParams = mrtr
	res, err := ts.reauthorizeTool().Handler(ctx, req)
	if err != nil {
		t.Fatalf("protocol error: %v", err)
	}
	return res
}

func reauthorizeOutcome(t *testing.T, res *mcp.CallToolResult) ReauthorizeOutput {
	t.Helper()
	out, ok := res.StructuredContent.(ReauthorizeOutput)
	if !ok || res.IsError {
		t.Fatalf("result %s, want a structured ReauthorizeOutput", text(res))
	}
	return out
}

// TestReauthorizeOpensPlannrsPageAndChecksTheResult takes the whole path:
// the client is asked to open exactly Plannr's URL for the connection, the
// person opens it, and the tool sees the renewed refresh token.
func TestReauthorizeOpensPlannrsPageAndChecksTheResult(t *testing.T) {
	ts, fake := setupReauthorize(t)
	ctx := modernContext(formsAndLinks)
	asked := callReauthorize(t, ts, ctx, strings.ToUpper(nucleusUUID), mcp.MultiRoundTripParams{})
	request, ok := asked.InputRequests[reauthorizeID]
	if !ok || request.Elicitation == nil || request.Elicitation.Mode != mcp.ElicitationModeURL {
		t.Fatalf("want a URL-mode elicitation, got %+v", asked)
	}
	wantURL := ""
	for _, c := range connectionsOf(t, ts) {
		if c.UUID == nucleusUUID {
			wantURL = c.RefreshAuthorizationURL
		}
	}
	if request.Elicitation.URL != wantURL || !strings.Contains(wantURL, "/reauthorize/"+nucleusUUID) || request.Elicitation.ElicitationID == "" {
		t.Fatalf("asked to open %q (id %q), want Plannr's %q", request.Elicitation.URL, request.Elicitation.ElicitationID, wantURL)
	}
	// The person opens the page, then the client answers.
	resp, err := http.Get(request.Elicitation.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	done := callReauthorize(t, ts, ctx, nucleusUUID, answerTo(reauthorizeID, asked.RequestState, mcp.ElicitationResponseActionAccept, nil))
	if out := reauthorizeOutcome(t, done); out.Outcome != outcomeFixed || out.Status != StatusHealthy || out.RefreshTokenExpiresAt == nil {
		t.Fatalf("after the page was opened: %+v, %s", out, text(done))
	}
	if fake.Changes(nucleusUUID) != 1 {
		t.Error("the fake's connection was not renewed once")
	}
}

func TestReauthorizeOutcomes(t *testing.T) {
	t.Run("a healthy connection needs nothing", func(t *testing.T) {
		ts, _ := setupReauthorize(t)
		res := callReauthorize(t, ts, modernContext(formsAndLinks), "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c", mcp.MultiRoundTripParams{})
		if out := reauthorizeOutcome(t, res); out.Outcome != outcomeNotNeeded || len(res.InputRequests) != 0 {
			t.Errorf("%+v %s", out, text(res))
		}
	})
	t.Run("a client that cannot open links gets the link", func(t *testing.T) {
		ts, _ := setupReauthorize(t)
		res := callReauthorize(t, ts, modernContext(formsOnly), nucleusUUID, mcp.MultiRoundTripParams{})
		if out := reauthorizeOutcome(t, res); out.Outcome != outcomeLinkGiven || !strings.Contains(text(res), "/reauthorize/"+nucleusUUID) {
			t.Errorf("%+v %s", out, text(res))
		}
	})
	for action, outcome := range map[mcp.ElicitationResponseAction]string{mcp.ElicitationResponseActionDecline: "declined", mcp.ElicitationResponseActionCancel: "cancelled"} {
		t.Run("the person answers "+string(action), func(t *testing.T) {
			ts, fake := setupReauthorize(t)
			ctx := modernContext(formsAndLinks)
			asked := callReauthorize(t, ts, ctx, nucleusUUID, mcp.MultiRoundTripParams{})
			res := callReauthorize(t, ts, ctx, nucleusUUID, answerTo(reauthorizeID, asked.RequestState, action, nil))
			if out := reauthorizeOutcome(t, res); out.Outcome != outcome || out.Status != StatusNeedsReauthorization || fake.Changes(nucleusUUID) != 0 {
				t.Errorf("%+v %s", out, text(res))
			}
		})
	}
	t.Run("accepted but not finished in time", func(t *testing.T) {
		ts, _ := setupReauthorize(t)
		ctx := modernContext(formsAndLinks)
		asked := callReauthorize(t, ts, ctx, nucleusUUID, mcp.MultiRoundTripParams{})
		res := callReauthorize(t, ts, ctx, nucleusUUID, answerTo(reauthorizeID, asked.RequestState, mcp.ElicitationResponseActionAccept, nil))
		if out := reauthorizeOutcome(t, res); out.Outcome != outcomeStillBroken || !strings.Contains(text(res), "does not show") {
			t.Errorf("%+v %s", out, text(res))
		}
	})
	t.Run("a forged request state", func(t *testing.T) {
		ts, _ := setupReauthorize(t)
		res := callReauthorize(t, ts, modernContext(formsAndLinks), nucleusUUID, answerTo(reauthorizeID, "eyJ1Ijoi.AAAA", mcp.ElicitationResponseActionAccept, nil))
		if !res.IsError || !strings.Contains(text(res), "not issued by this server") {
			t.Errorf("%s", text(res))
		}
	})
	t.Run("a state for another connection", func(t *testing.T) {
		ts, _ := setupReauthorize(t)
		ctx := modernContext(formsAndLinks)
		asked := callReauthorize(t, ts, ctx, nucleusUUID, mcp.MultiRoundTripParams{})
		res := callReauthorize(t, ts, ctx, "0b96d72c-d9de-40fb-9beb-de30a48c0160", answerTo(reauthorizeID, asked.RequestState, mcp.ElicitationResponseActionAccept, nil))
		if !res.IsError {
			t.Errorf("%s", text(res))
		}
	})
}

// The link is Plannr's, never one built from the call: a connection
// without a usable URL has nothing to open.
func TestReauthorizeRefusesAnUnusableLink(t *testing.T) {
	fake := sandbox.New(sandbox.WithConnections([]sandbox.Record{{
		UUID: nucleusUUID, Label: "Broken", ProviderName: "nucleus",
		RefreshTokenExpiresAt: ptr("2020-01-01T00:00:00.000000Z"), RefreshAuthorizationURL: "javascript:alert(1)",
	}}))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken), plannr.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	res := callReauthorize(t, NewToolset(client, Options{}), modernContext(formsAndLinks), nucleusUUID, mcp.MultiRoundTripParams{})
	if !res.IsError || !strings.Contains(text(res), "no usable re-authorization link") || len(res.InputRequests) != 0 {
		t.Errorf("%s", text(res))
	}
}

func TestReadOnlyModeServesNoReauthorization(t *testing.T) {
	for _, tool := range NewToolset(nil, Options{ReadOnly: true}).Tools() {
		if tool.Definition.Name == ReauthorizeToolName {
			t.Fatal("read-only mode serves reauthorize_oauth_connection, which leads to a change")
		}
	}
}

func connectionsOf(t *testing.T, ts *Toolset) []ConnectionOutput {
	t.Helper()
	res := call(t, ts, ListToolName, `{"limit":100}`)
	return res.StructuredContent.(ListOutput).Connections
}

func ptr(s string) *string { return &s }
