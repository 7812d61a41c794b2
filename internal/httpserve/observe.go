package httpserve

// RejectOther is the name OnReject gives a reason reasonName does not know.
const RejectOther = "other"

// reasonName is the short, bounded name of a rejection's reason, fit for
// a metric label. Every reason the guard gives has one (a test holds the
// guard to that).
func reasonName(reason string) string {
	switch reason {
	case "Host header is not a loopback name on a loopback listener":
		return "foreign_host"
	case "Origin not allowed":
		return "origin_not_allowed"
	case "no client token":
		return "no_client_token"
	case "wrong client token":
		return "wrong_client_token"
	case "too many live sessions":
		return "too_many_sessions"
	case "request body too large":
		return "body_too_large"
	case "request body could not be read":
		return "body_unreadable"
	case "no access token":
		return "no_access_token"
	case "access token refused":
		return "access_token_refused"
	case "access token could not be checked":
		return "access_token_unchecked"
	}
	return RejectOther
}

// LiveSessions counts the live sessions of the stateful mode; it is 0 in
// the stateless mode.
func (s *Server) LiveSessions() int {
	if s.sessions == nil {
		return 0
	}
	return s.sessions.live()
}
