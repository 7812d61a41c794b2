package tools

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// bigAccountSize is the number of connections of the large test account.
const bigAccountSize = 1000

var bigProviders = []struct{ name, label string }{
	{"fundment", "Fundment"}, {"transact", "Transact"}, {"nucleus", "Nucleus"},
	{"aviva", "Aviva"}, {"parmenion", "Parmenion"},
}

// bigConn is one generated connection with the facts the tests check
// against, computed independently of the code under test.
type bigConn struct {
	uuid     string
	label    string
	provider string
	never    bool
	expiry   time.Time // refresh token expiry when !never
}

// wantStatus is the health status the test expects at testNow with a
// window of within days.
func (c bigConn) wantStatus(within int) Status {
	switch {
	case c.never:
		return StatusHealthy
	case !c.expiry.After(testNow):
		return StatusNeedsReauthorization
	case !c.expiry.After(testNow.Add(time.Duration(within) * 24 * time.Hour)):
		return StatusExpiring
	default:
		return StatusHealthy
	}
}

// bigAccount generates n connections: five providers, labels in mixed case,
// refresh tokens that never expire (sent as null and as ""), expired ones,
// expiring ones, healthy ones, several sharing one expiry to the second,
// and uuids in no particular order.
func bigAccount(n int) ([]sandbox.Record, []bigConn) {
	records := make([]sandbox.Record, n)
	conns := make([]bigConn, n)
	for i := range n {
		p := bigProviders[i%len(bigProviders)]
		c := bigConn{
			uuid:     fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", (i*2654435761)%(1<<32), i%65536, i%4096, (i*7)%4096, i*104729),
			label:    fmt.Sprintf("%s client %04d", []string{"Adviser", "ADVISER", "adviser"}[i%3], i),
			provider: p.name,
		}
		rec := sandbox.Record{
			UUID:                    c.uuid,
			Label:                   c.label,
			ProviderName:            p.name,
			ProviderLabel:           p.label,
			CreatedAt:               testNow.Add(-time.Duration(i) * time.Hour).Format(time.RFC3339),
			UpdatedAt:               testNow.Format(time.RFC3339),
			RefreshAuthorizationURL: fmt.Sprintf("https://api.plannrcrm.com/oauth/%s/authorize/%s", p.name, c.uuid),
		}
		access := testNow.Add(-time.Hour).Format("2006-01-02T15:04:05.000000Z")
		rec.AccessTokenExpiresAt = &access
		switch {
		case i%10 == 0:
			c.never = true
			if i%20 == 0 {
				blank := ""
				rec.RefreshTokenExpiresAt = &blank
			}
		case i%10 == 1:
			// Ten connections share each of these expiries exactly.
			c.expiry = testNow.Add(time.Duration(i%100-50) * 24 * time.Hour)
		default:
			// Spread from 100 days ago to 300 days ahead, to the second.
			c.expiry = testNow.Add(time.Duration((i*7919*4099)%(400*86400)-100*86400) * time.Second)
		}
		if !c.never {
			s := c.expiry.UTC().Format("2006-01-02T15:04:05.000000Z")
			rec.RefreshTokenExpiresAt = &s
		}
		records[i], conns[i] = rec, c
	}
	return records, conns
}

// setupAccount returns a toolset over a fake Plannr holding records.
func setupAccount(t *testing.T, records []sandbox.Record, opts Options) (*Toolset, *sandbox.Server) {
	t.Helper()
	fake := sandbox.New(sandbox.WithClock(func() time.Time { return testNow }), sandbox.WithConnections(records), sandbox.WithRateLimit(0))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken), plannr.WithBaseURL(srv.URL), plannr.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	opts.Now = func() time.Time { return testNow }
	return NewToolset(client, opts), fake
}

func listOK(t *testing.T, ts *Toolset, args string) (ListOutput, string) {
	t.Helper()
	res := call(t, ts, ListToolName, args)
	if res.IsError {
		t.Fatalf("list %s failed: %s", args, text(res))
	}
	return res.StructuredContent.(ListOutput), text(res)
}

func argsJSON(t *testing.T, args map[string]any) string {
	t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantOrder sorts conns as the listing must, by rules restated here.
func wantOrder(conns []bigConn, sort string) []string {
	sorted := slices.Clone(conns)
	slices.SortFunc(sorted, func(a, b bigConn) int {
		switch sort {
		case "label":
			return cmp.Or(cmp.Compare(strings.ToLower(a.label), strings.ToLower(b.label)), cmp.Compare(a.uuid, b.uuid))
		case "provider":
			return cmp.Or(cmp.Compare(a.provider, b.provider), cmp.Compare(strings.ToLower(a.label), strings.ToLower(b.label)), cmp.Compare(a.uuid, b.uuid))
		default:
			if a.never != b.never {
				if a.never {
					return 1
				}
				return -1
			}
			return cmp.Or(a.expiry.Compare(b.expiry), cmp.Compare(a.uuid, b.uuid))
		}
	})
	uuids := make([]string, len(sorted))
	for i, c := range sorted {
		uuids[i] = c.uuid
	}
	return uuids
}

// pageThrough follows next_cursor from args to the end and returns every
// uuid in the order shown, checking each page's counts on the way. before
// is how many matches precede the first page.
func pageThrough(t *testing.T, ts *Toolset, args map[string]any, wantTotal, before int) []string {
	t.Helper()
	var seen []string
	limit := DefaultListLimit
	if n, ok := args["limit"].(int); ok {
		limit = n
	}
	next := argsJSON(t, args)
	for pages := 0; ; pages++ {
		if pages > bigAccountSize+1 {
			t.Fatal("paging does not end")
		}
		out, txt := listOK(t, ts, next)
		if out.Total != wantTotal {
			t.Fatalf("page %d: total = %d, want %d", pages+1, out.Total, wantTotal)
		}
		if out.Count != len(out.Connections) {
			t.Fatalf("page %d: count = %d but %d connections", pages+1, out.Count, len(out.Connections))
		}
		if rest := wantTotal - before - len(seen); out.Count != min(limit, rest) {
			t.Fatalf("page %d: count = %d, want %d", pages+1, out.Count, min(limit, rest))
		}
		if out.Count > 0 && out.Count < out.Total {
			header := fmt.Sprintf("Connections %d-%d of %d", before+len(seen)+1, before+len(seen)+out.Count, wantTotal)
			if !strings.HasPrefix(txt, header) {
				t.Fatalf("page %d text does not start with %q:\n%s", pages+1, header, txt)
			}
		}
		for _, c := range out.Connections {
			seen = append(seen, c.UUID)
		}
		if out.NextCursor == nil {
			if strings.Contains(txt, "cursor") {
				t.Errorf("last page still offers a cursor:\n%s", txt)
			}
			return seen
		}
		if !strings.Contains(txt, *out.NextCursor) {
			t.Errorf("page text does not give the next cursor")
		}
		next = argsJSON(t, map[string]any{"cursor": *out.NextCursor})
	}
}

// TestListPagingReachesEveryConnectionOnce pages through 1,000 connections
// in each sort order and checks the exact order and that each connection
// appears exactly once.
func TestListPagingReachesEveryConnectionOnce(t *testing.T) {
	records, conns := bigAccount(bigAccountSize)
	ts, fake := setupAccount(t, records, Options{})
	tests := []struct {
		sort  string
		limit int
	}{
		{"refresh_expiry", 100},
		{"label", 100},
		{"provider", 100},
		{"", 0}, // defaults: refresh_expiry, 25 a page
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.sort, tt.limit), func(t *testing.T) {
			args := map[string]any{}
			if tt.sort != "" {
				args["sort"] = tt.sort
			}
			if tt.limit != 0 {
				args["limit"] = tt.limit
			}
			before := fake.Count(http.MethodGet, "/api/v1/oauth/connections")
			got := pageThrough(t, ts, args, bigAccountSize, 0)
			if !slices.Equal(got, wantOrder(conns, tt.sort)) {
				t.Fatalf("paged order differs from the expected %s order", cmp.Or(tt.sort, "refresh_expiry"))
			}
			seen := map[string]bool{}
			for _, u := range got {
				if seen[u] {
					t.Fatalf("%s appears twice", u)
				}
				seen[u] = true
			}
			limit := cmp.Or(tt.limit, DefaultListLimit)
			pages := (bigAccountSize + limit - 1) / limit
			if n := fake.Count(http.MethodGet, "/api/v1/oauth/connections") - before; n != pages {
				t.Errorf("%d pages made %d requests to Plannr; want one each", pages, n)
			}
		})
	}
}

// TestListFilters checks each filter and their combinations against counts
// computed independently from the generated account.
func TestListFilters(t *testing.T) {
	records, conns := bigAccount(bigAccountSize)
	ts, fake := setupAccount(t, records, Options{})
	count := func(within int, keep func(bigConn) bool) (int, StatusCounts) {
		n, by := 0, StatusCounts{}
		for _, c := range conns {
			if keep(c) {
				n++
				by.add(c.wantStatus(within))
			}
		}
		return n, by
	}
	status := func(within int, want ...Status) func(bigConn) bool {
		return func(c bigConn) bool { return slices.Contains(want, c.wantStatus(within)) }
	}
	tests := []struct {
		name   string
		args   map[string]any
		within int
		keep   func(bigConn) bool
	}{
		{"no filter", map[string]any{}, 14, func(bigConn) bool { return true }},
		{"provider name any case", map[string]any{"provider": "FUNDMENT"}, 14, func(c bigConn) bool { return c.provider == "fundment" }},
		{"provider display name", map[string]any{"provider": " Transact "}, 14, func(c bigConn) bool { return c.provider == "transact" }},
		{"unknown provider", map[string]any{"provider": "hargreaves"}, 14, func(bigConn) bool { return false }},
		{"label contains any case", map[string]any{"label_contains": "ADVISER CLIENT 00"}, 14, func(c bigConn) bool {
			return strings.Contains(strings.ToLower(c.label), "adviser client 00")
		}},
		{"status healthy", map[string]any{"status": "healthy"}, 14, status(14, StatusHealthy)},
		{"status expiring", map[string]any{"status": "expiring"}, 14, status(14, StatusExpiring)},
		{"status needs_reauthorization", map[string]any{"status": "needs_reauthorization"}, 14, status(14, StatusNeedsReauthorization)},
		{"status attention", map[string]any{"status": "attention"}, 14, status(14, StatusExpiring, StatusNeedsReauthorization)},
		{"status in capitals", map[string]any{"status": "EXPIRING"}, 14, status(14, StatusExpiring)},
		{"expiring within 30 days", map[string]any{"status": "expiring", "expiring_within_days": 30}, 30, status(30, StatusExpiring)},
		{"expiring within 1 day", map[string]any{"status": "expiring", "expiring_within_days": 1}, 1, status(1, StatusExpiring)},
		{"window changes the counts only", map[string]any{"expiring_within_days": 90}, 90, func(bigConn) bool { return true }},
		{"provider and status", map[string]any{"provider": "nucleus", "status": "attention", "expiring_within_days": 60}, 60, func(c bigConn) bool {
			return c.provider == "nucleus" && c.wantStatus(60) != StatusHealthy
		}},
		{"every filter at once", map[string]any{"provider": "aviva", "label_contains": "adviser", "status": "healthy", "sort": "label"}, 14, func(c bigConn) bool {
			return c.provider == "aviva" && c.wantStatus(14) == StatusHealthy
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantTotal, wantBy := count(tt.within, tt.keep)
			if wantTotal == 0 && tt.name != "unknown provider" {
				t.Fatalf("test data has no match; the test would prove nothing")
			}
			args := tt.args
			args["limit"] = MaxListLimit
			out, txt := listOK(t, ts, argsJSON(t, args))
			if out.Total != wantTotal || out.ByStatus != wantBy {
				t.Fatalf("total %d by_status %+v; want %d %+v", out.Total, out.ByStatus, wantTotal, wantBy)
			}
			if out.ExpiringWithinDays != tt.within {
				t.Errorf("expiring_within_days = %d, want %d", out.ExpiringWithinDays, tt.within)
			}
			for _, c := range out.Connections {
				i := slices.IndexFunc(conns, func(b bigConn) bool { return b.uuid == c.UUID })
				if i < 0 || !tt.keep(conns[i]) {
					t.Fatalf("%s (%s) should not match", c.UUID, c.Label)
				}
				if c.Health.Status != conns[i].wantStatus(tt.within) {
					t.Fatalf("%s: status %s, want %s", c.UUID, c.Health.Status, conns[i].wantStatus(tt.within))
				}
			}
			if wantTotal == bigAccountSize {
				return // paged through in TestListPagingReachesEveryConnectionOnce
			}
			// Every page together holds exactly the matches.
			got := pageThrough(t, ts, args, wantTotal, 0)
			var want []string
			sortArg, _ := args["sort"].(string)
			for _, u := range wantOrder(conns, sortArg) {
				i := slices.IndexFunc(conns, func(b bigConn) bool { return b.uuid == u })
				if tt.keep(conns[i]) {
					want = append(want, u)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("paged %d connections, want %d in order", len(got), len(want))
			}
			if wantTotal == 0 && !strings.Contains(txt, "providers: aviva, fundment, nucleus, parmenion, transact") {
				t.Errorf("an empty answer should name the providers there are:\n%s", txt)
			}
		})
	}
	if n := fake.Count(http.MethodGet, "/api/v1/oauth/connections"); n != len(fake.Requests()) {
		t.Errorf("listing sent %d requests other than GET connections", len(fake.Requests())-n)
	}
}

// TestListSortOrders checks the first connections of each order by name.
func TestListSortOrders(t *testing.T) {
	ts, _ := setup(t, sandbox.SandboxToken)
	tests := []struct {
		sort string
		want []string
	}{
		{"refresh_expiry", []string{"Nucleus (old login)", "Fundment - J. Smith (adviser)", "Parmenion", "My Fundment Account 1", "Aviva Platform", "Transact platform"}},
		{"label", []string{"Aviva Platform", "Fundment - J. Smith (adviser)", "My Fundment Account 1", "Nucleus (old login)", "Parmenion", "Transact platform"}},
		{"provider", []string{"Aviva Platform", "Fundment - J. Smith (adviser)", "My Fundment Account 1", "Nucleus (old login)", "Parmenion", "Transact platform"}},
	}
	for _, tt := range tests {
		t.Run(tt.sort, func(t *testing.T) {
			out, _ := listOK(t, ts, `{"sort":"`+tt.sort+`"}`)
			var got []string
			for _, c := range out.Connections {
				got = append(got, strings.SplitN(untrusted.Text(c.Label), " ignore", 2)[0])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("order %q, want %q", got, tt.want)
			}
		})
	}
}

// TestListBadArgumentsSendNothing checks that every bad argument, including
// a cursor that is not one, is a clear tool error sent before Plannr is asked.
func TestListBadArgumentsSendNothing(t *testing.T) {
	ts, fake := setup(t, sandbox.SandboxToken)
	out, _ := listOK(t, ts, `{"limit":2,"provider":"fundment"}`)
	if out.NextCursor != nil {
		t.Fatalf("two fundment connections in pages of two: want no next cursor")
	}
	out, _ = listOK(t, ts, `{"limit":2,"status":"healthy"}`)
	if out.NextCursor == nil {
		t.Fatal("want a next cursor")
	}
	cursor := *out.NextCursor
	reseal := func(edit func(*listCursor)) string {
		c, err := ts.decodeCursor(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		edit(&c)
		return ts.encodeCursor(context.Background(), c)
	}
	// A cursor of the right shape that this server did not sign: what
	// anyone could build from a cursor they once saw.
	payload, _, _ := strings.Cut(cursor, ".")
	forged, _ := base64.RawURLEncoding.DecodeString(payload)
	forged = bytes.Replace(forged, []byte(`"s":"healthy"`), []byte(`"s":"expiring"`), 1)
	other := NewToolset(nil, Options{})
	c, _ := ts.decodeCursor(context.Background(), cursor)
	signedElsewhere := other.encodeCursor(context.Background(), c)
	before := len(fake.Requests())
	tests := []struct {
		name, args, want string
	}{
		{"cursor not base64", `{"cursor":"not a cursor!"}`, `"cursor" is not a next_cursor this server gave out`},
		{"cursor of another shape", `{"cursor":"` + base64.RawURLEncoding.EncodeToString([]byte(`{"page":2}`)) + `"}`, `"cursor" is not a next_cursor`},
		{"cursor forged without a signature", `{"cursor":"` + base64.RawURLEncoding.EncodeToString(forged) + `"}`, `"cursor" is not a next_cursor`},
		{"cursor forged with the old signature", `{"cursor":"` + base64.RawURLEncoding.EncodeToString(forged) + cursor[len(payload):] + `"}`, `"cursor" is not a next_cursor`},
		{"cursor signed by another server", `{"cursor":"` + signedElsewhere + `"}`, `"cursor" is not a next_cursor`},
		{"cursor truncated", `{"cursor":"` + cursor[:len(cursor)/2] + `"}`, `"cursor" is not a next_cursor`},
		{"cursor of another version", `{"cursor":"` + reseal(func(c *listCursor) { c.Version = 2 }) + `"}`, `"cursor" is not a next_cursor`},
		{"cursor with a bad limit", `{"cursor":"` + reseal(func(c *listCursor) { c.Query.Limit = 5000 }) + `"}`, `"cursor" is not a next_cursor`},
		{"cursor with a bad status", `{"cursor":"` + reseal(func(c *listCursor) { c.Query.Status = "broken" }) + `"}`, `"cursor" is not a next_cursor`},
		{"cursor for another status", `{"cursor":"` + cursor + `","status":"expiring"}`, `argument "status" is "expiring" but the cursor continues a listing with "healthy"`},
		{"cursor for another provider", `{"cursor":"` + cursor + `","provider":"aviva"}`, `argument "provider" is "aviva" but the cursor continues a listing with none`},
		{"cursor for another sort", `{"cursor":"` + cursor + `","sort":"label"}`, `argument "sort" is "label"`},
		{"cursor for another window", `{"cursor":"` + cursor + `","expiring_within_days":30}`, `argument "expiring_within_days" is 30 but the cursor continues a listing with 14`},
		{"cursor with a bad new limit", `{"cursor":"` + cursor + `","limit":0}`, `"limit" must be between 1 and 100, not 0`},
		{"unknown status", `{"status":"expired"}`, `"status" must be one of healthy, expiring, needs_reauthorization, unknown or attention`},
		{"unknown sort", `{"sort":"newest"}`, `"sort" must be one of refresh_expiry, label or provider, not "newest"`},
		{"limit too big", `{"limit":101}`, `"limit" must be between 1 and 100, not 101; use cursor`},
		{"limit zero", `{"limit":0}`, `"limit" must be between 1 and 100, not 0`},
		{"window zero", `{"expiring_within_days":0}`, `"expiring_within_days" must be between 1 and 3650, not 0`},
		{"window too long", `{"expiring_within_days":3651}`, `"expiring_within_days" must be between 1 and 3650`},
		{"limit not a number", `{"limit":"ten"}`, `argument "limit" must be a whole number, not a JSON string`},
		{"limit a fraction", `{"limit":2.5}`, `argument "limit" must be a whole number`},
		{"label_contains too long", `{"label_contains":"` + strings.Repeat("x", 256) + `"}`, `"label_contains" is 256 characters long`},
		{"unknown argument", `{"expired":true}`, `unknown argument "expired"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, ts, ListToolName, tt.args)
			got := text(res)
			if !res.IsError || !strings.Contains(got, tt.want) || !strings.Contains(got, "Nothing was sent to Plannr") {
				t.Fatalf("want a tool error containing %q; got isError=%v %q", tt.want, res.IsError, got)
			}
		})
	}
	if n := len(fake.Requests()) - before; n != 0 {
		t.Fatalf("bad arguments sent %d requests to Plannr; want none", n)
	}
}

// TestListCursorCarriesTheQuery checks that arguments left out beside a
// cursor come from it, that repeating them is allowed, and that the limit
// may change from page to page.
func TestListCursorCarriesTheQuery(t *testing.T) {
	records, conns := bigAccount(200)
	ts, _ := setupAccount(t, records, Options{})
	first, _ := listOK(t, ts, `{"provider":"fundment","status":"attention","sort":"label","limit":3,"expiring_within_days":60}`)
	if first.NextCursor == nil {
		t.Fatal("want more than one page")
	}
	cursor := *first.NextCursor
	bare, _ := listOK(t, ts, `{"cursor":"`+cursor+`"}`)
	repeated, _ := listOK(t, ts, `{"cursor":"`+cursor+`","provider":"Fundment","status":"attention","sort":"label","expiring_within_days":60}`)
	bigger, _ := listOK(t, ts, `{"cursor":"`+cursor+`","limit":10}`)
	if bare.Total != first.Total || repeated.Total != first.Total || bare.ExpiringWithinDays != 60 {
		t.Fatalf("totals %d %d %d", first.Total, bare.Total, repeated.Total)
	}
	if len(bare.Connections) != 3 || len(bigger.Connections) != min(10, first.Total-3) {
		t.Fatalf("page sizes %d and %d", len(bare.Connections), len(bigger.Connections))
	}
	for i := range bare.Connections {
		if bare.Connections[i].UUID != repeated.Connections[i].UUID || bare.Connections[i].UUID != bigger.Connections[i].UUID {
			t.Fatalf("the same cursor gave different pages")
		}
	}
	for _, c := range bigger.Connections {
		i := slices.IndexFunc(conns, func(b bigConn) bool { return b.uuid == c.UUID })
		if conns[i].provider != "fundment" || conns[i].wantStatus(60) == StatusHealthy {
			t.Fatalf("%s does not match the cursor's filters", c.UUID)
		}
	}
	// An odd page size over the whole account reaches each connection once.
	if got := pageThrough(t, ts, map[string]any{"limit": 7}, len(conns), 0); !slices.Equal(got, wantOrder(conns, "")) {
		t.Fatalf("pages of 7 did not reach every connection once in order")
	}
}

// TestListPagingSurvivesDeletes deletes connections between two pages:
// nothing still there is skipped or repeated.
func TestListPagingSurvivesDeletes(t *testing.T) {
	records, conns := bigAccount(50)
	ts, _ := setupAccount(t, records, Options{EnableDelete: true})
	order := wantOrder(conns, "label")
	first, _ := listOK(t, ts, `{"sort":"label","limit":10}`)
	if first.NextCursor == nil {
		t.Fatal("want a next cursor")
	}
	// Delete the last connection shown and one not yet shown.
	gone := []string{order[9], order[20]}
	for _, u := range gone {
		i := slices.IndexFunc(conns, func(b bigConn) bool { return b.uuid == u })
		res := call(t, ts, DeleteToolName, argsJSON(t, map[string]any{"uuid": u, "confirm_label": conns[i].label}))
		if res.IsError {
			t.Fatal(text(res))
		}
	}
	got := pageThrough(t, ts, map[string]any{"cursor": *first.NextCursor, "limit": 10}, 48, 9)
	var want []string
	for _, u := range order[10:] {
		if !slices.Contains(gone, u) {
			want = append(want, u)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after deletes the later pages hold %d connections, want %d in order", len(got), len(want))
	}
}

// Text budgets: the compact rendering beside structuredContent must stay
// small, because the model reads it on every call.
const (
	// sampleListTextBudget bounds the text of a default call on the six
	// sample connections.
	sampleListTextBudget = 2048
	// defaultPageTextBudget bounds the text of a default call on any
	// account: 25 connections, all of them needing re-authorization (the
	// longest line, as it carries the re-authorization link).
	defaultPageTextBudget = 8 * 1024
)

// TestListTextStaysSmall measures the text of default calls and holds it
// under the budgets above.
func TestListTextStaysSmall(t *testing.T) {
	ts, _ := setup(t, sandbox.SandboxToken)
	_, sample := listOK(t, ts, `{}`)
	t.Logf("sample account (6 connections): text %d bytes", len(sample))
	if len(sample) > sampleListTextBudget {
		t.Errorf("text of the sample list is %d bytes; budget %d", len(sample), sampleListTextBudget)
	}

	records, _ := bigAccount(bigAccountSize)
	big, _ := setupAccount(t, records, Options{})
	res := call(t, big, ListToolName, `{}`)
	out := res.StructuredContent.(ListOutput)
	structured, _ := json.Marshal(out)
	page := text(res)
	t.Logf("1,000 connections, default call: %d shown, text %d bytes, structuredContent %d bytes", out.Count, len(page), len(structured))
	if out.Count != DefaultListLimit || out.Total != bigAccountSize {
		t.Fatalf("default call shows %d of %d", out.Count, out.Total)
	}
	if out.Connections[DefaultListLimit-1].Health.Status != StatusNeedsReauthorization {
		t.Fatalf("the default page should be all broken connections, the longest lines")
	}
	if len(page) > defaultPageTextBudget {
		t.Errorf("text of a default call on 1,000 connections is %d bytes; budget %d", len(page), defaultPageTextBudget)
	}
	if lines := strings.Count(page, "\n"); lines != DefaultListLimit+1 {
		t.Errorf("text has %d lines; want a header, %d connections and the cursor line", lines+1, DefaultListLimit)
	}
}

// TestListResultMatchesRequest checks the structured result's metadata.
func TestListResultMatchesRequest(t *testing.T) {
	ts, _ := setup(t, sandbox.SandboxToken)
	res := call(t, ts, ListToolName, `{"status":"attention"}`)
	out := res.StructuredContent.(ListOutput)
	if out.AsOf != "2026-11-23T12:00:00Z" || out.Total != 2 || out.Count != 2 || out.NextCursor != nil {
		t.Errorf("result: %+v", out)
	}
	want := StatusCounts{Expiring: 1, NeedsReauthorization: 1}
	if out.ByStatus != want {
		t.Errorf("by_status %+v, want %+v", out.ByStatus, want)
	}
	// The structured result carries what the output schema promises.
	raw, _ := json.Marshal(res.StructuredContent)
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	if _, ok := generic["next_cursor"]; !ok {
		t.Error("next_cursor is missing rather than null")
	}
}
