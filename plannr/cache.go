package plannr

import (
	"sync"
	"time"
)

// listCache keeps the last list of connections for a short time, so that an
// assistant that lists repeatedly does not spend the rate limit. A change
// made through the client (rename, delete) empties it. A nil *listCache
// caches nothing.
type listCache struct {
	ttl time.Duration

	mu      sync.Mutex
	conns   []Connection
	expires time.Time
	// gen counts invalidations: a list fetched across one is not stored,
	// since it may predate the change.
	gen uint64
}

func newListCache(ttl time.Duration) *listCache {
	if ttl <= 0 {
		return nil
	}
	return &listCache{ttl: ttl}
}

// get returns a copy of the cached list, if there is one still fresh at now.
func (c *listCache) get(now time.Time) ([]Connection, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns == nil || !now.Before(c.expires) {
		return nil, false
	}
	return cloneConnections(c.conns), true
}

// generation is read before fetching a list and handed back to put.
func (c *listCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores a list fetched in generation gen, unless it has been
// invalidated since.
func (c *listCache) put(gen uint64, conns []Connection, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	c.conns = cloneConnections(conns)
	c.expires = now.Add(c.ttl)
}

// invalidate drops the cached list.
func (c *listCache) invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.conns = nil
}

// cloneConnections copies conns deeply enough that no caller can change
// another's copy.
func cloneConnections(conns []Connection) []Connection {
	out := make([]Connection, len(conns))
	for i, c := range conns {
		c.AccessTokenExpiresAt = cloneTime(c.AccessTokenExpiresAt)
		c.RefreshTokenExpiresAt = cloneTime(c.RefreshTokenExpiresAt)
		out[i] = c
	}
	return out
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}
