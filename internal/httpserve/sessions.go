package httpserve

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"sync"

	"github.com/mark3labs/mcp-go/server"
)

// errUnknownSession answers a session id that is not live or belongs to
// another client; the two are not told apart.
var errUnknownSession = errors.New("unknown session")

// sessionTable records the live sessions of the stateful mode: who owns each
// one, and how many there may be. It is mcp-go's session id manager, so ids
// are issued, checked and retired in one place.
//
// Requests reach it through a per-request view (boundSessions) that knows
// the requesting client; mcp-go's own housekeeping (idle expiry, shutdown)
// uses the table directly.
type sessionTable struct {
	max int

	mu       sync.Mutex
	sessions map[string]*sessionEntry
	reserved int // slots held by initialize requests in flight
}

type sessionEntry struct {
	owner clientID
	// ctx ends when the session does, which ends its GET stream.
	ctx    context.Context
	cancel context.CancelFunc
}

func newSessionTable(maxSessions int) *sessionTable {
	return &sessionTable{max: maxSessions, sessions: map[string]*sessionEntry{}}
}

// reservation is a slot an initialize request holds until mcp-go creates its
// session (which takes the slot) or the request ends (which frees it).
type reservation struct {
	table *sessionTable
	done  bool // guarded by table.mu
}

// reserve takes a slot for a new session, or reports that the table is full.
func (t *sessionTable) reserve() (*reservation, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.sessions)+t.reserved >= t.max {
		return nil, false
	}
	t.reserved++
	return &reservation{table: t}, true
}

// release frees the slot unless a session took it.
func (r *reservation) release() {
	r.table.mu.Lock()
	defer r.table.mu.Unlock()
	if !r.done {
		r.done = true
		r.table.reserved--
	}
}

// create issues a new session id for owner, in the slot res holds. Without
// a slot it issues nothing: mcp-go then answers without a session id and the
// client's next request is refused.
func (t *sessionTable) create(owner clientID, res *reservation) string {
	if res == nil {
		return ""
	}
	id := rand.Text()
	ctx, cancel := context.WithCancel(context.Background())
	t.mu.Lock()
	defer t.mu.Unlock()
	if res.done {
		cancel()
		return ""
	}
	res.done = true
	t.reserved--
	t.sessions[id] = &sessionEntry{owner: owner, ctx: ctx, cancel: cancel}
	return id
}

// lookup returns the live session id names if owner owns it.
func (t *sessionTable) lookup(id string, owner clientID) (*sessionEntry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.sessions[id]
	if !ok || e.owner != owner {
		return nil, false
	}
	return e, true
}

// remove ends a session; it reports whether there was one.
func (t *sessionTable) remove(id string) bool {
	t.mu.Lock()
	e, ok := t.sessions[id]
	delete(t.sessions, id)
	t.mu.Unlock()
	if ok {
		e.cancel()
	}
	return ok
}

// live counts the live sessions.
func (t *sessionTable) live() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

// Generate is never used without a request; see boundSessions.
func (t *sessionTable) Generate() string { return "" }

// Validate checks a session id for mcp-go's housekeeping.
func (t *sessionTable) Validate(id string) (isTerminated bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.sessions[id]; !ok {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate ends a session for mcp-go's housekeeping: idle expiry and shutdown.
func (t *sessionTable) Terminate(id string) (isNotAllowed bool, err error) {
	t.remove(id)
	return false, nil
}

// ResolveSessionIdManager gives mcp-go a view of the table bound to the
// client making r; a nil r is mcp-go's housekeeping. A request that did not
// pass the guard gets a view that refuses everything.
func (t *sessionTable) ResolveSessionIdManager(r *http.Request) server.SessionIdManager {
	if r == nil {
		return t
	}
	info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo)
	if !ok {
		return refuseSessions{}
	}
	return boundSessions{table: t, info: info}
}

// boundSessions is the table as one request sees it: it creates sessions for
// the requesting client only, and only sees that client's sessions.
type boundSessions struct {
	table *sessionTable
	info  *requestInfo
}

// Generate creates a session for the requesting client, in the slot its
// initialize request holds.
func (b boundSessions) Generate() string { return b.table.create(b.info.client, b.info.slot) }

// Validate accepts a live session of the requesting client only.
func (b boundSessions) Validate(id string) (isTerminated bool, err error) {
	if _, ok := b.table.lookup(id, b.info.client); !ok {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate ends a session of the requesting client only.
func (b boundSessions) Terminate(id string) (isNotAllowed bool, err error) {
	if _, ok := b.table.lookup(id, b.info.client); !ok {
		return false, errUnknownSession
	}
	b.table.remove(id)
	return false, nil
}

// refuseSessions is the view of a request the guard did not see.
type refuseSessions struct{}

// Generate issues no session.
func (refuseSessions) Generate() string { return "" }

// Validate accepts no session.
func (refuseSessions) Validate(string) (bool, error) { return false, errUnknownSession }

// Terminate ends no session.
func (refuseSessions) Terminate(string) (bool, error) { return false, errUnknownSession }
