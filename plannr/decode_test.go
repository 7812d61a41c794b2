package plannr_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// The client decodes each answer in one pass; these pin down that both
// shapes of a single connection, and a bad timestamp in a list, still
// decode as they did.
func TestRenameDecodesWrappedAndUnwrappedAnswers(t *testing.T) {
	const uuid = "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c"
	conn := `{"uuid":"` + uuid + `","label":"New","provider":{"name":"fundment","label":"Fundment"},"created_at":"2026-06-08T16:08:03+01:00","access_token_expires_at":"","refresh_token_expires_at":"2027-06-08T15:08:03.847942Z"}`
	tests := []struct {
		name, body, wantErr string
	}{
		{name: "unwrapped", body: conn},
		{name: "wrapped in data", body: `{"data":` + conn + `}`},
		{name: "data that is not a connection", body: strings.TrimSuffix(conn, "}") + `,"data":"x"}`},
		{name: "null data", body: strings.TrimSuffix(conn, "}") + `,"data":null}`},
		{name: "no connection at all", body: `{"message":"ok"}`, wantErr: "no connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := sandbox.New()
			fake.Inject(sandbox.Fault{Method: "PUT", Status: 200, Body: tt.body})
			c := newClient(t, fake)
			got, err := c.RenameOAuthConnection(context.Background(), uuid, "New")
			if tt.wantErr != "" {
				if !errors.Is(err, plannr.ErrMalformedResponse) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want a malformed-answer error naming %s, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.UUID != uuid || got.Label != "New" || got.Provider.Label != "Fundment" ||
				got.AccessTokenExpiresAt != nil || got.RefreshTokenExpiresAt == nil || got.CreatedAt.IsZero() {
				t.Errorf("decoded %+v", got)
			}
		})
	}
}

func TestRenameWithABadTimestampKeepsTheRest(t *testing.T) {
	const uuid = "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c"
	fake := sandbox.New()
	fake.Inject(sandbox.Fault{Method: "PUT", Status: 200, Body: `{"data":{"uuid":"` + uuid + `","label":"New","created_at":"soon"}}`})
	got, err := newClient(t, fake).RenameOAuthConnection(context.Background(), uuid, "New")
	if err != nil {
		t.Fatal(err)
	}
	if got.Label != "New" || got.Known("created_at") || !got.CreatedAt.IsZero() {
		t.Errorf("got %+v, want the label read and created_at unknown", got)
	}
}

// One bad record spoils only itself: the others are read, and the bad one
// is returned with what could be learned of it.
func TestListWithBadRecords(t *testing.T) {
	body := `{"data":[` +
		`{"uuid":"a","label":"fine","refresh_token_expires_at":"2027-06-08T15:08:03.847942Z"},` +
		`{"uuid":"b","label":"bad expiry","refresh_token_expires_at":"next Tuesday"},` +
		`{"uuid":"c","label":{"not":"a string"}},` +
		`{"uuid":"d","label":"no offset","created_at":"2026-06-08T19:08:03"}]}`
	fake := sandbox.New()
	fake.Inject(sandbox.Fault{Status: 200, Body: body})
	conns, err := newClient(t, fake).ListOAuthConnections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 4 {
		t.Fatalf("got %d connections, want 4", len(conns))
	}
	unreadable := func(c plannr.Connection) string {
		var fields []string
		for _, f := range c.Unreadable {
			fields = append(fields, f.Field)
		}
		return strings.Join(fields, ",")
	}
	want := []struct{ uuid, label, unreadable string }{
		{"a", "fine", ""},
		{"b", "bad expiry", "refresh_token_expires_at"},
		{"c", "", "record"},
		{"d", "no offset", "created_at"},
	}
	for i, w := range want {
		if conns[i].UUID != w.uuid || conns[i].Label != w.label || unreadable(conns[i]) != w.unreadable {
			t.Errorf("connection %d = %s %q unreadable %q; want %s %q %q", i, conns[i].UUID, conns[i].Label, unreadable(conns[i]), w.uuid, w.label, w.unreadable)
		}
	}
	if conns[1].RefreshTokenExpiresAt != nil || conns[1].Known("refresh_token_expires_at") {
		t.Error("the unreadable expiry reads as never expiring")
	}
}

// A broken envelope is still an error, and says whether asking again can help.
func TestListWithABrokenEnvelope(t *testing.T) {
	tests := []struct {
		body   string
		cutOff bool
	}{
		{`{}`, false},
		{`{"data":null}`, false},
		{`{"data":{"uuid":"a"}}`, false},
		{`<!doctype html><html><body>Welcome</body></html>`, false},
		{`{"data":[{"uuid":"a","label":"My`, true},
		{`{"data":[`, true},
	}
	for _, tt := range tests {
		fake := sandbox.New()
		fake.Inject(sandbox.Fault{Status: 200, Body: tt.body})
		_, err := newClient(t, fake).ListOAuthConnections(context.Background())
		var me *plannr.MalformedResponseError
		if !errors.As(err, &me) || me.CutOff != tt.cutOff {
			t.Errorf("%s: got %v (%+v), want a malformed answer with CutOff %v", tt.body, err, me, tt.cutOff)
		}
	}
}

func TestListOfNoConnectionsIsEmptyNotNil(t *testing.T) {
	fake := sandbox.New()
	fake.Inject(sandbox.Fault{Status: 200, Body: `{"data":[]}`})
	conns, err := newClient(t, fake).ListOAuthConnections(context.Background())
	if err != nil || conns == nil || len(conns) != 0 {
		t.Errorf("got %#v, %v", conns, err)
	}
}
