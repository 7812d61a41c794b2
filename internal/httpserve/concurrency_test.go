package httpserve

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// connectionUUID is the uuid of the connection session i works on.
func connectionUUID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// ownedConnections gives each of n sessions a connection of its own.
func ownedConnections(n int, now time.Time) []sandbox.Record {
	template := sandbox.SampleConnections(now)[0]
	records := make([]sandbox.Record, n)
	for i := range records {
		r := template
		r.UUID = connectionUUID(i)
		r.Label = fmt.Sprintf("s%d-initial", i)
		records[i] = r
	}
	return records
}

// At least 50 sessions make 20 mixed calls each, at once, half of them on
// the stateless protocol and half in server-held sessions. Each session
// renames only its own connection, so every result can be checked: a rename
// answers with that session's connection and label, and a list shows the
// session's latest label on its own connection and, on every other
// connection, only labels written by that connection's session.
func TestConcurrentSessions(t *testing.T) {
	const sessions, callsPerSession = 50, 20
	ts := startServer(t, Config{Tokens: []string{tokenA, tokenB}},
		sandbox.WithConnections(ownedConnections(sessions, time.Now())))

	transport := &http.Transport{MaxIdleConnsPerHost: 2 * sessions}
	defer transport.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		wg.Go(func() {
			if err := runSession(ts, transport, i, sessions, callsPerSession); err != nil {
				errs <- fmt.Errorf("session %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for i := range sessions {
		rec, _ := ts.fake.Connection(connectionUUID(i))
		if want := fmt.Sprintf("s%d-c%d", i, callsPerSession-2); rec.Label != want {
			t.Errorf("connection %d ends labelled %q, want %q", i, rec.Label, want)
		}
	}
	renames := ts.fake.Count("PUT", "/api/v1/oauth/connections/"+connectionUUID(0))
	if renames != callsPerSession/2 {
		t.Errorf("session 0's connection was renamed %d times, want %d", renames, callsPerSession/2)
	}
}

func runSession(ts *testServer, transport http.RoundTripper, i, sessions, calls int) error {
	version, token := legacy, tokenA
	if i%2 == 1 {
		version, token = modern, tokenB
	}
	session, err := tryConnect(ts.url, token, version, transport)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer session.Close()
	if version == legacy && session.ID() == "" {
		return fmt.Errorf("no session id on protocol %s", version)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	uuid, label := connectionUUID(i), fmt.Sprintf("s%d-initial", i)
	for c := range calls {
		if c%2 == 0 {
			var got tools.ConnectionOutput
			want := fmt.Sprintf("s%d-c%d", i, c)
			if err := call(ctx, session, "rename_oauth_connection", map[string]any{"uuid": uuid, "label": want}, &got); err != nil {
				return err
			}
			if got.UUID != uuid || got.Label != want {
				return fmt.Errorf("call %d: rename answered %s %q, want %s %q", c, got.UUID, got.Label, uuid, want)
			}
			label = want
			continue
		}
		var got tools.ListOutput
		if err := call(ctx, session, "list_oauth_connections", map[string]any{"limit": 100}, &got); err != nil {
			return err
		}
		if got.Count != sessions || got.Total != sessions || len(got.Connections) != sessions {
			return fmt.Errorf("call %d: list has %d of %d connections, want %d", c, got.Count, got.Total, sessions)
		}
		labels := map[string]string{}
		for _, conn := range got.Connections {
			labels[conn.UUID] = conn.Label
		}
		for k := range sessions {
			got, ok := labels[connectionUUID(k)]
			switch {
			case !ok:
				return fmt.Errorf("call %d: connection %d missing", c, k)
			case k == i && got != label:
				return fmt.Errorf("call %d: own connection labelled %q, want %q", c, got, label)
			case !strings.HasPrefix(got, fmt.Sprintf("s%d-", k)):
				return fmt.Errorf("call %d: connection %d labelled %q by another session", c, k, got)
			}
		}
	}
	return nil
}
