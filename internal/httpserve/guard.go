package httpserve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// corsAllowHeaders are the request headers a browser client on an allowed
// origin may send.
const corsAllowHeaders = "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID"

// realm names the server in WWW-Authenticate.
const realm = `Bearer realm="plannr-mcp"`

// requestInfoKey carries a requestInfo in a request's context, from the
// guard to the session table.
type requestInfoKey struct{}

// requestInfo is what the guard learned about a request.
type requestInfo struct {
	client clientID
	slot   *reservation // held by an initialize request in the stateful mode
}

// serveMCP is the guard around mcp-go's handler. In order: the Host and
// Origin checks, CORS, the client token, the body limit and the session
// rules. A request mcp-go sees has passed every check, and carries no
// Authorization header.
func (s *Server) serveMCP(w http.ResponseWriter, r *http.Request) {
	if foreignHost(r) {
		s.reject(w, r, http.StatusForbidden, "Host header is not a loopback name on a loopback listener", "host", r.Host)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !s.originAllowed(r, origin) {
			s.reject(w, r, http.StatusForbidden, "Origin not allowed", "origin", origin)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", server.HeaderKeySessionID+", WWW-Authenticate")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}

	info := &requestInfo{}
	if s.tokens.enabled() {
		presented, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", realm)
			s.reject(w, r, http.StatusUnauthorized, "no client token")
			return
		}
		if info.client, ok = s.tokens.match(presented); !ok {
			w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token"`)
			s.reject(w, r, http.StatusUnauthorized, "wrong client token")
			return
		}
	}

	var body []byte
	if r.Method == http.MethodPost {
		var ok bool
		if body, ok = s.readBody(w, r); !ok {
			return
		}
	}

	ctx := r.Context()
	var peek struct {
		Method mcp.MCPMethod `json:"method"`
	}
	if body != nil {
		_ = json.Unmarshal(body, &peek)
	}
	modern := mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion))
	if s.sessions != nil {
		switch {
		case r.Method == http.MethodPost && peek.Method == mcp.MethodInitialize:
			slot, ok := s.sessions.reserve()
			if !ok {
				w.Header().Set("Retry-After", "30")
				s.reject(w, r, http.StatusServiceUnavailable, "too many live sessions", "max_sessions", s.cfg.MaxSessions)
				return
			}
			defer slot.release()
			info.slot = slot
		case r.Method != http.MethodPost && !modern:
			id := r.Header.Get(server.HeaderKeySessionID)
			if id == "" {
				http.Error(w, "400 bad request: the "+server.HeaderKeySessionID+" header is required", http.StatusBadRequest)
				return
			}
			entry, ok := s.sessions.lookup(id, info.client)
			if !ok {
				http.Error(w, "404 not found: unknown session; initialize a new one", http.StatusNotFound)
				return
			}
			if r.Method == http.MethodGet {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				defer context.AfterFunc(entry.ctx, cancel)()
			}
		}
	}
	if r.Method == http.MethodGet || peek.Method == mcp.MethodSubscriptionsListen {
		// A stream ends during shutdown, once the calls are done, so that
		// it does not hold shutdown up until the timeout.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(s.streams, cancel)()
	} else {
		s.calls.Add(1)
		defer s.calls.Add(-1)
	}

	inner := r.WithContext(context.WithValue(ctx, requestInfoKey{}, info))
	inner.Header = r.Header.Clone()
	inner.Header.Del("Authorization")
	if body != nil {
		inner.Body = io.NopCloser(bytes.NewReader(body))
		inner.ContentLength = int64(len(body))
	}
	s.streamable.ServeHTTP(w, inner)
}

// readBody reads a POST body of at most MaxBodyBytes, answering 413 for a
// larger one.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	limit := s.cfg.MaxBodyBytes
	tooLarge := func() ([]byte, bool) {
		s.reject(w, r, http.StatusRequestEntityTooLarge, "request body too large", "limit_bytes", limit)
		return nil, false
	}
	if r.ContentLength > limit {
		return tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return tooLarge()
	case err != nil:
		s.reject(w, r, http.StatusBadRequest, "request body could not be read", "error", err)
		return nil, false
	}
	return body, true
}

// reject answers with status and logs why, never with a token or session id.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, status int, reason string, attrs ...any) {
	args := append([]any{"status", status, "reason", reason, "client", s.clientAddr(r), "method", r.Method, "path", r.URL.Path}, attrs...)
	s.logger.Warn("rejected request", args...)
	http.Error(w, fmt.Sprintf("%d %s: %s", status, strings.ToLower(http.StatusText(status)), reason), status)
}

// bearerToken returns the token of an Authorization: Bearer header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// originAllowed reports whether a browser page at origin may call the
// server: an origin of AllowedOrigins, or, on a loopback listener, a page
// of this machine (http or https on localhost, 127.0.0.0/8 or [::1], any
// port). A page elsewhere that rebinds a name to 127.0.0.1 sends its own
// name as Host and Origin, which the Host check and this one refuse.
func (s *Server) originAllowed(r *http.Request, origin string) bool {
	if s.origins[origin] {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || local == nil || !loopbackAddr(local.String()) {
		return false
	}
	scheme, hostport, ok := strings.Cut(origin, "://")
	if !ok || (scheme != "http" && scheme != "https") || strings.ContainsAny(hostport, "/?#@") {
		return false
	}
	return loopbackAddr(hostport)
}

// foreignHost reports a request that reached a loopback listener under a
// Host that is not a loopback name: the mark of DNS rebinding, where a web
// page makes a browser send requests to a name that resolves to 127.0.0.1.
func foreignHost(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || local == nil {
		return false
	}
	return loopbackAddr(local.String()) && !loopbackAddr(r.Host)
}

// clientAddr names the client in logs: the peer's address, or, when the
// peer is a trusted proxy, the nearest untrusted address in X-Forwarded-For.
func (s *Server) clientAddr(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !s.trustedProxy(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = hop.Unmap()
		if !s.trustedProxy(addr) {
			break
		}
	}
	return addr.String()
}

func (s *Server) trustedProxy(addr netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
