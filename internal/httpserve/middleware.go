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
	method mcp.MCPMethod // the JSON-RPC method of a POST
	slot   *reservation  // held by an initialize request in the stateful mode
}

// The guard around mcp-go's handler is a chain of small middlewares, in
// this order: the Host check, the Origin check with CORS, the method, the
// client token, the body limit and the session rules. A request mcp-go
// sees has passed every one, and carries no Authorization header.
func (s *Server) guard(mcpHandler http.Handler) http.Handler {
	return s.checkHost(s.checkOrigin(allowMethods(s.checkToken(s.limitBody(s.sessionRules(stripAuthorization(mcpHandler)))))))
}

// checkHost refuses DNS rebinding: see foreignHost.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if foreignHost(r) && !s.publicHost(r.Host) {
			s.reject(w, r, http.StatusForbidden, "Host header is not a loopback name on a loopback listener", "host", r.Host)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkOrigin refuses browser pages of origins not allowed, sends CORS
// headers to those allowed, and answers their preflight requests.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
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
		next.ServeHTTP(w, r)
	})
}

// allowMethods answers 405 to anything but the transport's methods.
func allowMethods(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodGet, http.MethodDelete:
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// checkToken refuses a request without a configured client token, and
// notes which one it presented.
func (s *Server) checkToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &requestInfo{}
		if s.cfg.Verifier != nil {
			s.checkBearer(w, r, next, info)
			return
		}
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
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
	})
}

// limitBody reads a POST body of at most MaxBodyBytes, answering 413 for a
// larger one, and notes the JSON-RPC method it names. It runs after the
// token check, so that no unauthenticated client makes the server read a
// large body.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, ok := s.readBody(w, r)
		if !ok {
			return
		}
		var peek struct {
			Method mcp.MCPMethod `json:"method"`
		}
		_ = json.Unmarshal(body, &peek)
		infoOf(r).method = peek.Method
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// sessionRules applies the stateful mode's rules (a slot for each new
// session, a live session of the requesting client for everything else)
// and ends long-lived streams at shutdown.
func (s *Server) sessionRules(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		info := infoOf(r)
		modern := mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion))
		if s.sessions != nil {
			switch {
			case r.Method == http.MethodPost && info.method == mcp.MethodInitialize:
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
		if r.Method == http.MethodGet || info.method == mcp.MethodSubscriptionsListen {
			// A stream ends during shutdown, once the calls are done, so
			// that it does not hold shutdown up until the timeout.
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(s.streams, cancel)()
		} else {
			s.calls.Add(1)
			defer s.calls.Add(-1)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// stripAuthorization drops the client's token before mcp-go sees the
// request: a client's credential is never passed on.
func stripAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner := r.Clone(r.Context())
		inner.Header.Del("Authorization")
		next.ServeHTTP(w, inner)
	})
}

// infoOf returns what the guard has learned about r so far.
func infoOf(r *http.Request) *requestInfo {
	info, _ := r.Context().Value(requestInfoKey{}).(*requestInfo)
	if info == nil {
		return &requestInfo{}
	}
	return info
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
	if s.cfg.OnReject != nil {
		s.cfg.OnReject(reasonName(reason))
	}
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
