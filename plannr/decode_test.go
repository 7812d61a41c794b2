package plannr_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
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
		{name: "garbage timestamp", body: `{"data":{"uuid":"` + uuid + `","created_at":"soon"}}`, wantErr: "created_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := plannrtest.New()
			fake.Inject(plannrtest.Fault{Method: "PUT", Status: 200, Body: tt.body})
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

func TestListReportsABadTimestamp(t *testing.T) {
	fake := plannrtest.New()
	fake.Inject(plannrtest.Fault{Status: 200, Body: `{"data":[{"uuid":"a"},{"uuid":"b","refresh_token_expires_at":"next tuesday"}]}`})
	c := newClient(t, fake)
	_, err := c.ListOAuthConnections(context.Background())
	if !errors.Is(err, plannr.ErrMalformedResponse) || !strings.Contains(err.Error(), "refresh_token_expires_at") {
		t.Fatalf("want a malformed-answer error naming the field, got %v", err)
	}
}

func TestListOfNoConnectionsIsEmptyNotNil(t *testing.T) {
	for _, body := range []string{`{"data":[]}`, `{}`} {
		fake := plannrtest.New()
		fake.Inject(plannrtest.Fault{Status: 200, Body: body})
		conns, err := newClient(t, fake).ListOAuthConnections(context.Background())
		if err != nil || conns == nil || len(conns) != 0 {
			t.Errorf("%s: got %#v, %v", body, conns, err)
		}
	}
}
