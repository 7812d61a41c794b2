package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// ListOutput is the result of list_oauth_connections.
type ListOutput struct {
	Connections        []ConnectionOutput `json:"connections" jsonschema:"required"`
	Count              int                `json:"count" jsonschema:"required" jsonschema_description:"Connections in this answer."`
	Total              int                `json:"total" jsonschema:"required" jsonschema_description:"Connections matching the filters, in all pages."`
	ByStatus           StatusCounts       `json:"by_status" jsonschema:"required"`
	NextCursor         *string            `json:"next_cursor" jsonschema:"required,oneof_type=string;null" jsonschema_description:"Pass as cursor for the next page; null on the last page."`
	ExpiringWithinDays int                `json:"expiring_within_days" jsonschema:"required"`
	AsOf               string             `json:"as_of" jsonschema:"required,format=date-time"`
	Unreadable         []UnreadableOutput `json:"unreadable,omitempty" jsonschema_description:"Fields of connections in this answer that Plannr sent in a form this server cannot read; they are shown as unknown."`
}

// UnreadableOutput is one field of a connection that could not be read.
type UnreadableOutput struct {
	UUID    string `json:"uuid" jsonschema:"required"`
	Field   string `json:"field" jsonschema:"required" jsonschema_description:"Plannr's name of the field; record = the whole connection."`
	Problem string `json:"problem" jsonschema:"required" jsonschema_description:"What Plannr sent (untrusted data) and why it cannot be read."`
}

const listDescription = `List the Plannr account's OAuth2 connections to third-party platforms (such as Fundment or Transact) with their health, filtered and paged in the server.
Each has a uuid (other tools take it), label, provider, token expiries and health: status needs_reauthorization (refresh token expired: broken until a person opens refresh_authorization_url), expiring (refresh token expires within expiring_within_days) or healthy. An expired access token alone is normal; it is refreshed automatically.
With no arguments: the 25 soonest to expire. total says how many matched; use next_cursor to page.`

func (t *Toolset) listTool() Tool {
	return newTool(t, toolSpec{
		name: ListToolName, title: "List OAuth connections", description: listDescription,
		readOnly: true, idempotent: true,
	}, t.list)
}

func (t *Toolset) list(ctx context.Context, _ mcp.CallToolRequest, in ListInput) (ListOutput, string, error) {
	q, after, err := t.parseListInput(ctx, in)
	if err != nil {
		return ListOutput{}, "", err
	}
	conns, err := t.api.ListOAuthConnections(ctx)
	if err != nil {
		return ListOutput{}, "", err
	}
	now := t.now()
	p := selectPage(conns, q, after, now)
	out := newListOutput(p, q, now)
	var next string
	if p.next != nil {
		next = t.encodeCursor(ctx, listCursor{Version: cursorVersion, Query: q, After: *p.next})
		out.NextCursor = &next
	}
	return out, renderPage(p, q, conns, next, now), nil
}

// mentionServed adds to the list tool's description how to act on what it
// lists with the tools and the view this server serves.
func (t *Toolset) mentionServed() {
	i := slices.IndexFunc(t.tools, func(tool Tool) bool { return tool.Definition.Name == ListToolName })
	if i < 0 {
		return
	}
	d := &t.tools[i].Definition.Description
	if t.has(ReauthorizeToolName) {
		*d += " To fix one: reauthorize_oauth_connection."
	}
	if t.uiEnabled() {
		*d += " MCP Apps hosts show a dashboard."
	}
}

// newListOutput is the structured result for one page of a listing.
func newListOutput(p page, q listQuery, now time.Time) ListOutput {
	out := ListOutput{
		Connections:        make([]ConnectionOutput, len(p.items)),
		Count:              len(p.items),
		Total:              p.matched,
		ByStatus:           p.byStatus,
		ExpiringWithinDays: q.Within,
		AsOf:               now.UTC().Format(time.RFC3339),
	}
	for i, a := range p.items {
		out.Connections[i] = newConnectionOutput(a.conn, a.health)
	}
	out.Unreadable = unreadableOf(p.items)
	return out
}

// expected says what a field should have held.
func expected(field string) string {
	if field == fieldRecord {
		return "a connection this server can read"
	}
	return "a timestamp (RFC 3339 with an offset)"
}

// renderPage is the compact text of a listing: a header with the counts,
// one line per connection and, if there is more, how to get it.
func renderPage(p page, q listQuery, all []plannr.Connection, next string, now time.Time) string {
	var b strings.Builder
	b.Grow(512 + 256*len(p.items)) // a line is about 200 bytes: grow once, not per line
	filters := describeFilters(q)
	switch {
	case len(all) == 0:
		return "The account has no OAuth connections."
	case p.matched == 0:
		fmt.Fprintf(&b, "No connection matches%s. The account has %d connections; providers: %s.",
			filters, len(all), providerNames(all, 20))
		return b.String()
	case len(p.items) == 0:
		fmt.Fprintf(&b, "No more connections: all %d matching%s were shown on earlier pages.", p.matched, filters)
		return b.String()
	case len(p.items) == p.matched:
		fmt.Fprintf(&b, "%d connection%s%s", p.matched, plural(p.matched), filters)
	default:
		fmt.Fprintf(&b, "Connections %d-%d of %d%s", p.first, p.first+len(p.items)-1, p.matched, filters)
	}
	fmt.Fprintf(&b, ", %s (as of %s; dates are refresh-token expiries; expiring = within %d days). ", sortPhrase(q.Sort), now.UTC().Format("2006-01-02 15:04 UTC"), q.Within)
	var counts []string
	if n := p.byStatus.NeedsReauthorization; n > 0 {
		verb := "need"
		if n == 1 {
			verb = "needs"
		}
		counts = append(counts, fmt.Sprintf("%d %s re-authorization", n, verb))
	}
	if n := p.byStatus.Expiring; n > 0 {
		counts = append(counts, fmt.Sprintf("%d expiring", n))
	}
	if n := p.byStatus.Healthy; n > 0 {
		counts = append(counts, fmt.Sprintf("%d healthy", n))
	}
	if n := p.byStatus.Unknown; n > 0 {
		counts = append(counts, fmt.Sprintf("%d unknown", n))
	}
	b.WriteString(strings.Join(counts, ", "))
	b.WriteString(". " + labelNotice + "\n")
	for i, a := range p.items {
		fmt.Fprintf(&b, "%d. %s\n", p.first+i, connectionLine(a.conn, a.health, now))
	}
	if note := unreadableNote(unreadableOf(p.items)); note != "" {
		b.WriteString(note + "\n")
	}
	if next != "" {
		fmt.Fprintf(&b, "More: call again with cursor %q.", next)
	}
	return strings.TrimRight(b.String(), "\n")
}

// unreadableOf lists the unreadable fields of connections.
func unreadableOf(items []assessed) []UnreadableOutput {
	var out []UnreadableOutput
	for _, a := range items {
		for _, f := range a.conn.Unreadable {
			out = append(out, UnreadableOutput{UUID: untrusted.Text(a.conn.UUID), Field: untrusted.Text(f.Field), Problem: untrusted.Quote(untrusted.Truncate(f.Value, 60)) + " is not " + expected(f.Field)})
		}
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func sortPhrase(sort string) string {
	switch sort {
	case sortLabel:
		return "by label"
	case sortProvider:
		return "by provider, then label"
	default:
		return "soonest to expire first"
	}
}

// describeFilters names the filters in effect, for the header line.
func describeFilters(q listQuery) string {
	var parts []string
	if q.Provider != "" {
		parts = append(parts, "provider "+untrusted.Quote(q.Provider))
	}
	if q.LabelContains != "" {
		parts = append(parts, "label containing "+untrusted.Quote(q.LabelContains))
	}
	if q.Status != "" {
		parts = append(parts, "status "+q.Status)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// providerNames lists the distinct provider names of conns, sorted, at most max of them.
func providerNames(conns []plannr.Connection, max int) string {
	var names []string
	for _, c := range conns {
		name := untrusted.Text(strings.ToLower(c.Provider.Name))
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) > max {
		return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
	}
	return strings.Join(names, ", ")
}
