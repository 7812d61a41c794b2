package plannr_test

import (
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr"
)

func TestListCache(t *testing.T) {
	env := newRSEnv(t, plannr.WithListCache(5*time.Second))
	ctx := t.Context()
	list := func(wantFetches int) []plannr.Connection {
		t.Helper()
		conns, err := env.Client.ListOAuthConnections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := env.Fake.Count("GET", rsListPath); n != wantFetches {
			t.Fatalf("the fake saw %d lists, want %d", n, wantFetches)
		}
		return conns
	}

	first := list(1)
	first[0].Label = "changed by the caller"
	if again := list(1); again[0].Label == "changed by the caller" {
		t.Error("a caller's change to its copy leaked into the cache")
	}
	env.Clock.Advance(5 * time.Second)
	list(2)
	list(2)

	if _, err := env.Client.RenameOAuthConnection(ctx, rsUUID, "Renamed"); err != nil {
		t.Fatal(err)
	}
	if conns := list(3); conns[0].Label != "Renamed" {
		t.Errorf("after a rename the list shows %q, want the new label", conns[0].Label)
	}
	if _, err := env.Client.RenameOAuthConnection(ctx, rsUUID, " "); err == nil {
		t.Fatal("a blank label was accepted")
	}
	list(4) // even a failed rename empties the cache

	if err := env.Client.DeleteOAuthConnection(ctx, rsUUID); err != nil {
		t.Fatal(err)
	}
	if conns := list(5); len(conns) != 5 {
		t.Errorf("after a delete the list has %d connections, want 5", len(conns))
	}
	list(5)
}

func TestListCacheIsOffByDefault(t *testing.T) {
	env := newRSEnv(t)
	for range 3 {
		if _, err := env.Client.ListOAuthConnections(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.Fake.Count("GET", rsListPath); n != 3 {
		t.Errorf("the fake saw %d lists, want 3: caching is off unless asked for", n)
	}
}
