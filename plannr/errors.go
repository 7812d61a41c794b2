package plannr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// ErrorResponse is a non-2xx answer from the Plannr API. Plannr follows
// Laravel's conventions: a JSON body with a "message" and, for validation
// failures (422), per-field "errors". Message and Errors are Plannr's text,
// scrubbed of secrets but not otherwise cleaned: quote them with
// untrusted.Text or untrusted.Quote.
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
		fmt.Fprintf(&b, ": %s", untrusted.Text(e.Message))
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

// ErrResponseTooLarge reports an answer larger than the client will read;
// errors that match it are *ResponseTooLargeError.
var ErrResponseTooLarge = errors.New("response body too large")

// ResponseTooLargeError is an answer larger than WithMaxResponseBytes
// allows. It was not read to its end.
type ResponseTooLargeError struct {
	// Limit is the most the client reads, in bytes.
	Limit int64
}

func (e *ResponseTooLargeError) Error() string {
	return fmt.Sprintf("%v (over %d bytes)", ErrResponseTooLarge, e.Limit)
}

// Is makes errors.Is(err, ErrResponseTooLarge) true.
func (e *ResponseTooLargeError) Is(target error) bool { return target == ErrResponseTooLarge }

// ErrMalformedResponse reports a successful answer whose body is not the
// JSON the client expects; errors that match it are *MalformedResponseError.
var ErrMalformedResponse = errors.New("answer is not the expected JSON")

// MalformedResponseError is a successful answer the client could not read.
type MalformedResponseError struct {
	// Method and Path name the request.
	Method string
	// Path is the request's URL path.
	Path string
	// StatusCode is the answer's status.
	StatusCode int
	// CutOff reports an answer that ends in the middle of its JSON: it was
	// cut off on the way, and asking again may well work. Otherwise the
	// answer is complete but not what Plannr's API sends, and asking again
	// will not help.
	CutOff bool
	// Err says what was wrong.
	Err error
}

func (e *MalformedResponseError) Error() string {
	return fmt.Sprintf("plannr: %s %s: %v: decoding the %d answer: %v", e.Method, e.Path, ErrMalformedResponse, e.StatusCode, e.Err)
}

// Is makes errors.Is(err, ErrMalformedResponse) true.
func (e *MalformedResponseError) Is(target error) bool { return target == ErrMalformedResponse }

// Unwrap returns what was wrong.
func (e *MalformedResponseError) Unwrap() error { return e.Err }

// malformed reports an answer that could not be decoded; body, when given,
// tells a cut-off answer from one of the wrong shape.
func malformed(method, path string, status int, body []byte, err error) error {
	return &MalformedResponseError{Method: method, Path: path, StatusCode: status, CutOff: cutOff(body), Err: err}
}

// cutOff reports JSON that is well formed as far as it goes, but ends early.
func cutOff(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	depth := 0
	for {
		tok, err := dec.Token()
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return true
		case errors.Is(err, io.EOF):
			return depth > 0
		case err != nil:
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// CheckResponse returns nil for a 2xx answer and the typed error of any
// other: an *ErrorResponse, or a *RateLimitError for a 429. body is the
// answer's body, already read.
func CheckResponse(method, path string, resp *Response, body []byte, now time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	e := &ErrorResponse{Method: method, Path: path, StatusCode: resp.StatusCode}
	var laravel struct {
		Message string              `json:"message"`
		Errors  map[string][]string `json:"errors"`
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
	case json.Unmarshal(trimmed, &laravel) == nil && (laravel.Message != "" || laravel.Errors != nil):
		e.Message = laravel.Message
		e.Errors = laravel.Errors
	case looksLikeHTML(trimmed):
		e.Message = "the answer was an HTML page, not JSON (often a proxy or gateway error page)"
	default:
		e.Message = untrusted.Excerpt(string(trimmed), 200)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return &RateLimitError{
			ErrorResponse: e,
			RetryAfter:    ParseRetryAfter(resp.Header.Get("Retry-After"), now),
			Reset:         parseUnixSeconds(resp.Header.Get("X-RateLimit-Reset")),
		}
	}
	return e
}

// ParseRetryAfter reads a Retry-After header given in seconds or as an HTTP
// date; it returns zero when the header is absent, malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func parseUnixSeconds(v string) time.Time {
	secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}
	}
	return time.Unix(secs, 0)
}

func looksLikeHTML(b []byte) bool {
	head := strings.ToLower(string(b[:min(len(b), 256)]))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html") || strings.Contains(head, "<body")
}
