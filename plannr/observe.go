package plannr

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Observer is told what the client does with each request, for metrics
// and traces. Its methods run on the request path: they must be quick,
// must not block, and must be safe for concurrent use. What they are given
// is bounded: an endpoint is a route such as "GET
// /api/v1/oauth/connections/{uuid}", never a path with a uuid in it, and
// no token, header or body is passed on.
type Observer interface {
	// StartRequest is called when the client starts a request, before
	// it takes a token. The context it returns is used for the rest of
	// the request, so it may carry a span; end is called once, with the
	// outcome, when the request is over.
	StartRequest(ctx context.Context, endpoint string) (context.Context, func(RequestOutcome))
	// Attempted is called after each attempt to send a request.
	Attempted(ctx context.Context, a AttemptInfo)
	// RateLimited is called when the client-side rate limiter held a
	// request back for wait, or, with refused set, would have had to
	// hold it past the call's deadline and did not send it.
	RateLimited(ctx context.Context, endpoint string, wait time.Duration, refused bool)
}

// RequestOutcome is how a request ended, for an Observer.
type RequestOutcome struct {
	// Endpoint is the request's route.
	Endpoint string
	// Status is the last answer's HTTP status; 0 when none came back.
	Status int
	// Attempts is how many times the request was sent.
	Attempts int
	// Err is the request's error, nil for a 2xx answer.
	Err error
}

// AttemptInfo is one attempt to send a request, for an Observer.
type AttemptInfo struct {
	// Endpoint is the request's route.
	Endpoint string
	// Status is the answer's HTTP status; 0 when none came back.
	Status int
	// Failure classifies an attempt that got no answer: FailureTimeout,
	// FailureConnection, FailureCanceled; empty when an answer came back.
	Failure string
	// Duration is how long the attempt took on the wire.
	Duration time.Duration
	// RetryCause is why the request is sent again after this attempt
	// ("429", "502", "503", "504", FailureTimeout or FailureConnection);
	// empty when it is not.
	RetryCause string
	// RetryWait is the wait before that retry.
	RetryWait time.Duration
	// Remaining is the answer's X-RateLimit-Remaining; -1 when it had none.
	Remaining int
}

// Classes of an attempt that got no answer.
const (
	FailureTimeout    = "timeout"
	FailureConnection = "connection"
	FailureCanceled   = "canceled"
)

// WithObserver tells o about every request, attempt and rate-limit wait.
// nil, the default, observes nothing and costs nothing.
func WithObserver(o Observer) Option {
	return func(c *clientConfig) error { c.observer = o; return nil }
}

// EndpointOther is the route of a path the client does not know.
const EndpointOther = "other"

// Endpoint names a request by its method and route, such as
// "PUT /api/v1/oauth/connections/{uuid}": a bounded name, fit for a metric
// label, that never holds a uuid. path is relative to the base URL; an
// unknown path or method is EndpointOther.
func Endpoint(method, path string) string {
	var route string
	switch rest, isConn := strings.CutPrefix(path, "/api/v1/oauth/connections/"); {
	case path == "/api/v1/oauth/connections":
		route = path
	case isConn && rest != "" && !strings.Contains(rest, "/"):
		route = "/api/v1/oauth/connections/{uuid}"
	case path == "/api/v1/logins":
		route = path
	default:
		return EndpointOther
	}
	switch method {
	case http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPost, http.MethodPatch, http.MethodHead:
		return method + " " + route
	}
	return EndpointOther
}

// endpoint names req for an Observer.
func (c *Client) endpoint(req *http.Request) string {
	return Endpoint(req.Method, strings.TrimPrefix(req.URL.Path, c.basePath))
}

// failureClass classifies an attempt's error for an Observer.
func failureClass(ctx context.Context, err error) string {
	var te *AttemptTimeoutError
	switch {
	case errors.As(err, &te), errors.Is(err, context.DeadlineExceeded):
		return FailureTimeout
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return FailureCanceled
	}
	return FailureConnection
}

// retryCause names why an attempt is retried.
func retryCause(ctx context.Context, a attempt) string {
	if a.err != nil {
		return failureClass(ctx, a.err)
	}
	return strconv.Itoa(a.status)
}

// remainingOf reads X-RateLimit-Remaining, or -1.
func remainingOf(h http.Header) int {
	v := strings.TrimSpace(h.Get("X-RateLimit-Remaining"))
	if v == "" {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
