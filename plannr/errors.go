package plannr

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// ErrorResponse is a non-2xx answer from the Plannr API. Plannr follows
// Laravel's conventions: a JSON body with a "message" and, for validation
// failures (422), per-field "errors".
type ErrorResponse struct {
	// Method and Path name the request that failed.
	Method string
	// Path is the request's URL path.
	Path string
	// StatusCode is the HTTP status Plannr answered with.
	StatusCode int
	// Message is Plannr's "message", or a summary of a body that was not JSON.
	Message string
	// Errors holds Laravel's per-field validation messages, keyed by field.
	Errors map[string][]string
}

func (e *ErrorResponse) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plannr: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// FieldMessages returns every per-field validation message, ordered by field.
func (e *ErrorResponse) FieldMessages() []string {
	fields := make([]string, 0, len(e.Errors))
	for f := range e.Errors {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	var out []string
	for _, f := range fields {
		out = append(out, e.Errors[f]...)
	}
	return out
}

// RateLimitError is a 429 answer. It unwraps to its ErrorResponse.
type RateLimitError struct {
	*ErrorResponse
	// RetryAfter is how long Plannr asked us to wait; zero when it did not say.
	RetryAfter time.Duration
	// Reset is when the limit lifts, from X-RateLimit-Reset; zero when absent.
	Reset time.Time
}

func (e *RateLimitError) Error() string {
	msg := e.ErrorResponse.Error()
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return msg
}

// Unwrap lets errors.As find the underlying ErrorResponse.
func (e *RateLimitError) Unwrap() error { return e.ErrorResponse }

// CredentialError reports that no usable bearer token could be obtained, so
// the request was never sent. Err says why, in words meant for a person.
type CredentialError struct {
	Err error
}

func (e *CredentialError) Error() string { return "plannr: no usable credential: " + e.Err.Error() }

// Unwrap returns the token source's error.
func (e *CredentialError) Unwrap() error { return e.Err }
