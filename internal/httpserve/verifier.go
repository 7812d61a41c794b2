package httpserve

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Verifier checks the OAuth access tokens of the remote mode, where each
// person signs in and a request acts for them: the authorization server's
// token check.
type Verifier interface {
	// Verify checks a bearer token and returns the request's context with
	// who it acts for, and the subject a stateful session is bound to. A
	// refused token is an error; its message never holds the token.
	Verify(ctx context.Context, token string) (context.Context, string, error)
	// Challenge is the WWW-Authenticate value of a 401 for err (nil when
	// no token was presented).
	Challenge(err error) string
	// Refused reports whether err of Verify refuses the token (401),
	// rather than the check failing, as when its store is unreachable
	// (503: the client should try again, not sign in again).
	Refused(err error) bool
}

// subjects numbers the verified subjects, so that sessions are bound to a
// subject as they are to a client token.
type subjects struct {
	mu  sync.Mutex
	ids map[string]clientID
}

func (s *subjects) id(subject string) clientID {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]clientID{}
	}
	id, ok := s.ids[subject]
	if !ok {
		id = clientID(len(s.ids) + 1)
		s.ids[subject] = id
	}
	return id
}

// checkBearer is checkToken for the remote mode: a missing or refused
// token gets 401 naming the resource's metadata, and a valid one's request
// goes on acting for its person.
func (s *Server) checkBearer(w http.ResponseWriter, r *http.Request, next http.Handler, info *requestInfo) {
	presented, ok := bearerToken(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", s.cfg.Verifier.Challenge(nil))
		s.reject(w, r, http.StatusUnauthorized, "no access token")
		return
	}
	ctx, subject, err := s.cfg.Verifier.Verify(r.Context(), presented)
	if err != nil {
		if !s.cfg.Verifier.Refused(err) {
			w.Header().Set("Retry-After", "5")
			s.reject(w, r, http.StatusServiceUnavailable, "access token could not be checked", "error", err.Error())
			return
		}
		w.Header().Set("WWW-Authenticate", s.cfg.Verifier.Challenge(err))
		s.reject(w, r, http.StatusUnauthorized, "access token refused", "why", err.Error())
		return
	}
	info.client = s.subjects.id(subject)
	next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, requestInfoKey{}, info)))
}

// publicHost reports a Host header naming the configured public URL.
func (s *Server) publicHost(host string) bool {
	return slices.ContainsFunc(s.cfg.PublicHosts, func(h string) bool { return strings.EqualFold(h, host) })
}
