package tools

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// Paging limits of list_oauth_connections.
const (
	// DefaultListLimit is how many connections one call shows when it does not say.
	DefaultListLimit = 25
	// MaxListLimit is the most connections one call may show.
	MaxListLimit = 100
)

// Sort orders of list_oauth_connections.
const (
	sortRefreshExpiry = "refresh_expiry"
	sortLabel         = "label"
	sortProvider      = "provider"
)

// statusAttention selects every connection that is not healthy.
const statusAttention = "attention"

// ListInput is the arguments of list_oauth_connections; all are optional.
type ListInput struct {
	Provider           string `json:"provider,omitempty" jsonschema_description:"Only this provider, by name or display name, any case (e.g. fundment)."`
	LabelContains      string `json:"label_contains,omitempty" jsonschema:"maxLength=255" jsonschema_description:"Only labels containing this text, any case."`
	Status             string `json:"status,omitempty" jsonschema:"enum=healthy,enum=expiring,enum=needs_reauthorization,enum=unknown,enum=attention" jsonschema_description:"Only connections in this health status; attention = all but healthy."`
	ExpiringWithinDays *int   `json:"expiring_within_days,omitempty" jsonschema:"minimum=1,maximum=3650" jsonschema_description:"A token expiring within this many days counts as expiring. Default 14."`
	Sort               string `json:"sort,omitempty" jsonschema:"enum=refresh_expiry,enum=label,enum=provider" jsonschema_description:"refresh_expiry (default): soonest first, never-expiring last; label: A to Z; provider: by provider, then label."`
	Limit              *int   `json:"limit,omitempty" jsonschema:"minimum=1,maximum=100" jsonschema_description:"Show at most this many. Default 25."`
	Cursor             string `json:"cursor,omitempty" jsonschema_description:"next_cursor of the previous answer, for the next page; the other arguments may then be left out."`
}

// listQuery is a validated, normalized ListInput: what a cursor carries so
// that later pages continue exactly the same listing.
type listQuery struct {
	Provider      string `json:"p,omitempty"`
	LabelContains string `json:"l,omitempty"`
	Status        string `json:"s,omitempty"`
	Within        int    `json:"w"`
	Sort          string `json:"o"`
	Limit         int    `json:"n"`
}

// sortKey is where a connection falls in a listing's order. Only the fields
// the sort uses are set; the uuid breaks every tie, so the order is total.
type sortKey struct {
	Never    bool   `json:"x,omitempty"` // the refresh token never expires
	Unknown  bool   `json:"k,omitempty"` // its expiry could not be read
	Expiry   int64  `json:"e,omitempty"` // refresh token expiry, unix nanoseconds
	Provider string `json:"p,omitempty"`
	Label    string `json:"l,omitempty"`
	UUID     string `json:"u"`
}

// listCursor is the opaque next_cursor: the query and the last key shown.
// Paging by key rather than by position means a connection added or deleted
// between calls neither repeats nor skips any other.
type listCursor struct {
	Version int       `json:"v"`
	Query   listQuery `json:"q"`
	After   sortKey   `json:"a"`
}

const cursorVersion = 1

// encodeCursor seals c, so that a cursor this server did not give out, or
// one altered on the way, is refused.
func (t *Toolset) encodeCursor(ctx context.Context, c listCursor) string {
	b, err := json.Marshal(c)
	if err != nil {
		// A struct of strings, ints and bools always marshals.
		panic(err)
	}
	return t.seal(ctx, purposeCursor, b)
}

var errBadCursor = badArgument(`argument "cursor" is not a next_cursor this server gave out to the person calling; pass next_cursor from the previous answer unchanged, or leave cursor out to start from the first page`)

func (t *Toolset) decodeCursor(ctx context.Context, s string) (listCursor, error) {
	var c listCursor
	b, err := t.open(ctx, purposeCursor, s)
	if err != nil {
		return c, errBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Version != cursorVersion {
		return c, errBadCursor
	}
	if _, err := validQuery(c.Query); err != nil {
		return c, errBadCursor
	}
	return c, nil
}

// validQuery checks a normalized query, as built from arguments or read from a cursor.
func validQuery(q listQuery) (listQuery, error) {
	switch q.Status {
	case "", string(StatusHealthy), string(StatusExpiring), string(StatusNeedsReauthorization), string(StatusUnknown), statusAttention:
	default:
		return q, badArgument(`argument "status" must be one of healthy, expiring, needs_reauthorization, unknown or attention (all but healthy), not %q; needs_reauthorization means the refresh token has expired`, untrusted.Truncate(q.Status, 40))
	}
	switch q.Sort {
	case sortRefreshExpiry, sortLabel, sortProvider:
	default:
		return q, badArgument(`argument "sort" must be one of refresh_expiry, label or provider, not %q`, untrusted.Truncate(q.Sort, 40))
	}
	if q.Within < 1 || q.Within > maxExpiringWithinDays {
		return q, badArgument(`argument "expiring_within_days" must be between 1 and %d, not %d`, maxExpiringWithinDays, q.Within)
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return q, badArgument(`argument "limit" must be between 1 and %d, not %d; use cursor to page through more`, MaxListLimit, q.Limit)
	}
	if n := utf8.RuneCountInString(q.LabelContains); n > maxLabelLength {
		return q, badArgument(`argument "label_contains" is %d characters long; labels are at most %d`, n, maxLabelLength)
	}
	if n := utf8.RuneCountInString(q.Provider); n > maxLabelLength {
		return q, badArgument(`argument "provider" is %d characters long; give a provider name such as fundment`, n)
	}
	return q, nil
}

// parseListInput validates the arguments and, with a cursor, merges them
// with the listing the cursor continues. It never calls Plannr.
func (t *Toolset) parseListInput(ctx context.Context, in ListInput) (listQuery, *sortKey, error) {
	q := listQuery{
		Provider:      strings.TrimSpace(in.Provider),
		LabelContains: strings.TrimSpace(in.LabelContains),
		Status:        strings.ToLower(strings.TrimSpace(in.Status)),
		Sort:          strings.ToLower(strings.TrimSpace(in.Sort)),
		Within:        DefaultExpiringWithinDays,
		Limit:         DefaultListLimit,
	}
	if in.ExpiringWithinDays != nil {
		q.Within = *in.ExpiringWithinDays
	}
	if in.Limit != nil {
		q.Limit = *in.Limit
	}
	cursor := strings.TrimSpace(in.Cursor)
	if cursor == "" {
		if q.Sort == "" {
			q.Sort = sortRefreshExpiry
		}
		q, err := validQuery(q)
		return q, nil, err
	}
	c, err := t.decodeCursor(ctx, cursor)
	if err != nil {
		return q, nil, err
	}
	// Arguments given beside a cursor must agree with the listing it
	// continues; those left out are taken from the cursor. Only limit may change.
	prev := c.Query
	conflict := func(name, got, want string) error {
		return badArgument(`argument %q is %s but the cursor continues a listing with %s; repeat the same arguments with a cursor, or leave cursor out to start a new listing`, name, got, want)
	}
	switch {
	case q.Provider != "" && !strings.EqualFold(q.Provider, prev.Provider):
		return q, nil, conflict("provider", quoteOr(q.Provider), quoteOr(prev.Provider))
	case q.LabelContains != "" && !strings.EqualFold(q.LabelContains, prev.LabelContains):
		return q, nil, conflict("label_contains", quoteOr(q.LabelContains), quoteOr(prev.LabelContains))
	case q.Status != "" && q.Status != prev.Status:
		return q, nil, conflict("status", quoteOr(q.Status), quoteOr(prev.Status))
	case q.Sort != "" && q.Sort != prev.Sort:
		return q, nil, conflict("sort", quoteOr(q.Sort), quoteOr(prev.Sort))
	case in.ExpiringWithinDays != nil && *in.ExpiringWithinDays != prev.Within:
		return q, nil, conflict("expiring_within_days", strconv.Itoa(*in.ExpiringWithinDays), strconv.Itoa(prev.Within))
	}
	limit := prev.Limit
	if in.Limit != nil {
		limit = *in.Limit
	}
	prev.Limit = limit
	merged, err := validQuery(prev)
	return merged, &c.After, err
}

func quoteOr(s string) string {
	if s == "" {
		return "none"
	}
	return `"` + untrusted.Truncate(s, 60) + `"`
}

// foldLabel is the form labels are compared and sorted in: cleaned of
// invisible characters, white space folded, lower case.
func foldLabel(label string) string { return strings.ToLower(untrusted.Text(label)) }

func keyFor(sort string, c plannr.Connection) sortKey {
	k := sortKey{UUID: c.UUID}
	switch sort {
	case sortRefreshExpiry:
		if !c.Known(fieldRefreshExpiry) || !c.Known(fieldRecord) {
			k.Unknown = true
		} else if c.RefreshTokenExpiresAt == nil {
			k.Never = true
		} else {
			k.Expiry = c.RefreshTokenExpiresAt.UnixNano()
		}
	case sortLabel:
		k.Label = foldLabel(c.Label)
	case sortProvider:
		k.Provider = strings.ToLower(c.Provider.Name)
		k.Label = foldLabel(c.Label)
	}
	return k
}

// compareKeys orders keys of the same sort. Refresh tokens whose expiry is
// unknown sort after every expiry, and never-expiring ones after those.
func compareKeys(a, b sortKey) int {
	return cmp.Or(
		cmp.Compare(expiryRank(a), expiryRank(b)),
		cmp.Compare(a.Expiry, b.Expiry),
		cmp.Compare(a.Provider, b.Provider),
		cmp.Compare(a.Label, b.Label),
		cmp.Compare(a.UUID, b.UUID),
	)
}

// expiryRank places a key's expiry: a date, then unknown, then never.
func expiryRank(k sortKey) int {
	switch {
	case k.Never:
		return 2
	case k.Unknown:
		return 1
	}
	return 0
}

// assessed is a connection with its health and its place in the order.
type assessed struct {
	conn   plannr.Connection
	health HealthOutput
	key    sortKey
}

// StatusCounts counts connections by health status.
type StatusCounts struct {
	Healthy              int `json:"healthy" jsonschema:"required"`
	Expiring             int `json:"expiring" jsonschema:"required"`
	NeedsReauthorization int `json:"needs_reauthorization" jsonschema:"required"`
	Unknown              int `json:"unknown" jsonschema:"required"`
}

func (s *StatusCounts) add(st Status) {
	switch st {
	case StatusHealthy:
		s.Healthy++
	case StatusExpiring:
		s.Expiring++
	case StatusNeedsReauthorization:
		s.NeedsReauthorization++
	case StatusUnknown:
		s.Unknown++
	}
}

// page is one page of a listing.
type page struct {
	items    []assessed
	matched  int          // connections matching the filters, in all pages
	byStatus StatusCounts // of the matching connections
	first    int          // 1-based position of items[0] among the matches
	next     *sortKey     // key to continue after; nil on the last page
}

// selectPage filters, sorts and pages conns. It is pure: now is passed in.
func selectPage(conns []plannr.Connection, q listQuery, after *sortKey, now time.Time) page {
	matches := make([]assessed, 0, len(conns))
	for _, c := range conns {
		a := assessed{conn: c, health: connectionHealth(c, now, q.Within), key: keyFor(q.Sort, c)}
		if q.matches(a) {
			matches = append(matches, a)
		}
	}
	slices.SortFunc(matches, func(a, b assessed) int { return compareKeys(a.key, b.key) })
	p := page{matched: len(matches)}
	for _, a := range matches {
		p.byStatus.add(a.health.Status)
	}
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(matches, *after, func(a assessed, k sortKey) int {
			if compareKeys(a.key, k) <= 0 {
				return -1
			}
			return 1
		})
	}
	end := min(start+q.Limit, len(matches))
	p.items = matches[start:end]
	p.first = start + 1
	if end < len(matches) && end > start {
		last := matches[end-1].key
		p.next = &last
	}
	return p
}

func (q listQuery) matches(a assessed) bool {
	if q.Provider != "" && !strings.EqualFold(q.Provider, a.conn.Provider.Name) && !strings.EqualFold(q.Provider, a.conn.Provider.Label) {
		return false
	}
	if q.LabelContains != "" && !strings.Contains(foldLabel(a.conn.Label), foldLabel(q.LabelContains)) {
		return false
	}
	switch q.Status {
	case "":
		return true
	case statusAttention:
		return a.health.Status != StatusHealthy
	default:
		return string(a.health.Status) == q.Status
	}
}
