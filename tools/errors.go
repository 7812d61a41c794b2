package tools

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plannr-mcp/plannr-mcp/internal/neterr"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// subject is what a failed call was about, for wording its error.
type subject struct {
	// uuid is the connection the call named, if any.
	uuid string
	// changed is what the call does to it, as in "the connection may or
	// may not have been <changed>"; empty for a call that only reads.
	changed string
	// unchanged is said when the call certainly changed nothing.
	unchanged string
}

// reading is the subject of a call that changes nothing.
var reading = subject{}

// Subjects of the calls that change a connection.
func renaming(uuid string) subject {
	return subject{uuid: uuid, changed: "renamed", unchanged: "Nothing was changed."}
}

func deleting(uuid string) subject {
	return subject{uuid: uuid, changed: "deleted", unchanged: nothingDeleted}
}

// errorResult turns an error into a tool error the model can act on.
func (t *Toolset) errorResult(ctx context.Context, err error, about subject) *mcp.CallToolResult {
	return mcp.NewToolResultError(t.describeError(ctx, err, about))
}

// describeError words err for the model that made the call: what happened,
// whether anything changed, and what to do next. It never quotes an
// internal detail such as a network address; that goes to the debug log.
func (t *Toolset) describeError(ctx context.Context, err error, about subject) string {
	var argErr *argumentError
	if !errors.As(err, &argErr) {
		t.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "tool call failed", slog.String("error", err.Error()))
	}
	msg := t.explain(err, about)
	if about.changed == "" || errors.As(err, &argErr) || errors.Is(err, plannr.ErrMalformedResponse) {
		return msg
	}
	if errors.Is(err, plannr.ErrOutcomeUnknown) {
		return msg + fmt.Sprintf(" The connection may or may not have been %s: call list_oauth_connections to check before trying again.", about.changed)
	}
	return msg + " " + about.unchanged
}

// explain says what went wrong, without the outcome.
func (t *Toolset) explain(err error, about subject) string {
	var (
		argErr      *argumentError
		credErr     *plannr.CredentialError
		rateErr     *plannr.RateLimitError
		apiErr      *plannr.ErrorResponse
		retryErr    *plannr.RetryError
		throttleErr *plannr.ThrottleError
		tooLarge    *plannr.ResponseTooLargeError
		malformed   *plannr.MalformedResponseError
	)
	switch {
	case errors.As(err, &argErr):
		return "Invalid arguments: " + argErr.msg + ". Nothing was sent to Plannr."
	case errors.As(err, &credErr):
		return join("Plannr credential problem: "+untrusted.Text(credErr.Err.Error())+".", t.opts.CredentialHelp)
	case errors.As(err, &retryErr):
		return describeRetryError(retryErr)
	case errors.As(err, &throttleErr):
		wait := humanDuration(throttleErr.Wait)
		return fmt.Sprintf("This server is pacing its requests to stay within Plannr's rate limit, and the next free slot is %s away, later than this call may wait. Nothing was sent to Plannr. Try again in %s.", wait, wait)
	case errors.As(err, &rateErr):
		wait := "a minute"
		if rateErr.RetryAfter > 0 {
			wait = rateErr.RetryAfter.String()
		}
		return fmt.Sprintf("Plannr is rate-limiting requests (429 Too Many Attempts). Wait %s before trying again; do not retry in a loop.", wait)
	case errors.As(err, &apiErr):
		return t.describeAPIError(apiErr, about)
	case errors.Is(err, context.DeadlineExceeded):
		return "Plannr did not answer in time. It may be slow or unreachable; try again in a minute."
	case errors.Is(err, context.Canceled):
		return "The call was cancelled before Plannr answered."
	case errors.As(err, &tooLarge):
		return fmt.Sprintf("Plannr's answer was larger than the %s this server reads, so it was discarded. The server's operator can raise the limit with PLANNR_MAX_RESPONSE_BYTES (or --max-response-bytes).", humanBytes(tooLarge.Limit))
	case errors.As(err, &malformed):
		msg := "Plannr's answer was not the JSON this server expects"
		if malformed.CutOff {
			msg += ": it was cut off on the way. Try again in a minute."
		} else {
			msg += ", and asking again will not help: the base URL (PLANNR_BASE_URL) may point somewhere other than Plannr's API. Check it, or report this to the server's operator."
		}
		if about.changed != "" {
			msg += fmt.Sprintf(" Plannr accepted the request, so the connection was probably %s: call list_oauth_connections to check.", about.changed)
		}
		return msg
	default:
		return fmt.Sprintf("Could not reach Plannr: %s. Check the network and the base URL (PLANNR_BASE_URL), then try again.", networkProblem(err))
	}
}

func (t *Toolset) describeAPIError(e *plannr.ErrorResponse, about subject) string {
	quoted := plannrSaid(e.Message)
	switch code := e.StatusCode; {
	case code == http.StatusUnauthorized:
		return join("Plannr rejected the credential (401 Unauthenticated): the token is missing, wrong, expired or revoked.", t.opts.CredentialHelp)
	case (code == http.StatusBadRequest || code == http.StatusForbidden || code == http.StatusUnprocessableEntity) &&
		strings.Contains(strings.ToLower(e.Message), "account"):
		return fmt.Sprintf("Plannr needs a valid account to act for (%d %s).%s %s", code, http.StatusText(code), quoted, AccountsCommandHint)
	case code == http.StatusForbidden:
		return "Plannr refused this action (403 Forbidden): the signed-in user may not manage this account's connections, or the configured account uuid (PLANNR_ACCOUNT_UUID) is not one of theirs." + quoted + " " + AccountsCommandHint
	case code == http.StatusNotFound && strings.Contains(e.Message, "route"):
		return "Plannr does not know this endpoint (404): the configured base URL (PLANNR_BASE_URL) is probably wrong." + quoted
	case code == http.StatusNotFound && about.uuid != "":
		return fmt.Sprintf("No OAuth connection has uuid %s (404 Not Found). Call list_oauth_connections to see the connections and their uuids.", about.uuid)
	case code == http.StatusUnprocessableEntity:
		msgs := e.FieldMessages()
		if len(msgs) == 0 && e.Message != "" {
			msgs = []string{e.Message}
		}
		return fmt.Sprintf("Plannr rejected the change (422).%s Fix the arguments and call again.", plannrSaid(msgs...))
	case code >= 300 && code < 400:
		return fmt.Sprintf("Plannr answered with a redirect (%d %s), which its API never does: the base URL (PLANNR_BASE_URL) is probably wrong.", code, http.StatusText(code))
	case code >= 500:
		return fmt.Sprintf("Plannr had a server error (%d %s).%s This is usually temporary; try again in a minute.", code, http.StatusText(code), quoted)
	default:
		return fmt.Sprintf("Plannr answered %d %s.%s", code, http.StatusText(code), quoted)
	}
}

// plannrSaid quotes Plannr's messages as data, each cleaned and bounded:
// ` Plannr said: "…" "…".`, or "" when there are none.
func plannrSaid(msgs ...string) string {
	var quoted []string
	for _, m := range msgs {
		if m = untrusted.Text(m); m != "" && len(quoted) < 5 {
			quoted = append(quoted, untrusted.Quote(untrusted.Truncate(m, 300)))
		}
	}
	if len(quoted) == 0 {
		return ""
	}
	last := quoted[len(quoted)-1]
	end := "."
	if strings.HasSuffix(last, `."`) || strings.HasSuffix(last, `!"`) || strings.HasSuffix(last, `?"`) {
		end = ""
	}
	return " Plannr said: " + strings.Join(quoted, " ") + end
}

// describeRetryError explains a call that was retried and still failed:
// what kept going wrong, how often and for how long it was retried, and
// when to try again.
func describeRetryError(e *plannr.RetryError) string {
	tried := fmt.Sprintf("retried %s over %s", times(e.Attempts-1), humanDuration(e.Elapsed))
	var (
		rateErr *plannr.RateLimitError
		apiErr  *plannr.ErrorResponse
	)
	switch {
	case errors.As(e.Err, &rateErr):
		wait := "a minute"
		if rateErr.RetryAfter > 0 {
			wait = humanDuration(rateErr.RetryAfter)
		}
		return fmt.Sprintf("Plannr rate-limited us (429 Too Many Attempts); %s; try again in %s, and do not retry in a loop.", tried, wait)
	case errors.As(e.Err, &apiErr):
		return fmt.Sprintf("Plannr had a server error (%d %s); %s.%s This is usually temporary; try again in a minute.",
			apiErr.StatusCode, http.StatusText(apiErr.StatusCode), tried, plannrSaid(apiErr.Message))
	case errors.Is(e.Err, context.DeadlineExceeded):
		return fmt.Sprintf("Plannr did not answer in time; %s. It may be slow or unreachable; try again in a minute.", tried)
	default:
		return fmt.Sprintf("The connection to Plannr kept failing (%s); %s. Check the network, then try again in a minute.", networkProblem(e.Err), tried)
	}
}

// networkProblem names a network failure in a few words, without the
// addresses and system details of the error itself.
func networkProblem(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		hostErr x509.HostnameError
		recErr  tls.RecordHeaderError
		netErr  net.Error
	)
	switch {
	case neterr.IsRefused(err):
		return "the connection was refused: nothing is listening at the base URL"
	case errors.As(err, &dnsErr):
		return "the base URL's host name could not be resolved"
	case errors.As(err, &certErr), errors.As(err, &hostErr):
		return "Plannr's TLS certificate could not be verified"
	case errors.As(err, &recErr):
		return "the server at the base URL does not speak TLS"
	case neterr.IsReset(err):
		return "connection reset"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the answer was cut off"
	case errors.Is(err, io.EOF):
		return "the connection closed before an answer"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "the connection timed out"
	case neterr.IsUnreachable(err):
		return "the network or host is unreachable"
	default:
		return "a network error"
	}
}

// times says how many times something was done: "once", "twice", "4 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	default:
		return fmt.Sprintf("%d times", n)
	}
}

// humanDuration renders a wait for a person: "0.5 s", "7.5 s", "20 s", "3 min".
func humanDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', -1, 64) + " s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	default:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	}
}

// humanBytes renders a size limit: "32 MiB", "512 KiB", "100 bytes".
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

func join(a, b string) string {
	if b == "" {
		return a
	}
	return a + " " + b
}
