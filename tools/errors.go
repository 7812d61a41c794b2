package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// errorResult turns an error into a tool error the model can act on. uuid
// names the connection the call was about, if any.
func (t *Toolset) errorResult(err error, uuid string) *mcp.CallToolResult {
	return mcp.NewToolResultError(t.describeError(err, uuid))
}

func (t *Toolset) describeError(err error, uuid string) string {
	var (
		argErr  *argumentError
		credErr *plannr.CredentialError
		rateErr *plannr.RateLimitError
		apiErr  *plannr.ErrorResponse
	)
	var (
		retryErr    *plannr.RetryError
		throttleErr *plannr.ThrottleError
	)
	switch {
	case errors.As(err, &argErr):
		return "Invalid arguments: " + argErr.msg + ". Nothing was sent to Plannr."
	case errors.As(err, &credErr):
		return join("Plannr credential problem: "+credErr.Err.Error()+".", t.opts.CredentialHelp)
	case errors.As(err, &retryErr):
		return describeRetryError(retryErr, uuid)
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
		return t.describeAPIError(apiErr, uuid)
	case errors.Is(err, context.DeadlineExceeded):
		return "Plannr did not answer in time. It may be slow or unreachable; try again in a minute."
	case errors.Is(err, context.Canceled):
		return "The call was cancelled before Plannr answered."
	case errors.Is(err, plannr.ErrResponseTooLarge):
		return "Plannr's answer was larger than this server will read, so it was discarded. Report this to the server's operator."
	case errors.Is(err, plannr.ErrMalformedResponse):
		msg := "Plannr's answer was not the JSON this server expects: it may have been cut off, or the base URL (PLANNR_BASE_URL) may point somewhere other than Plannr's API. Try again in a minute; if it keeps happening, check the base URL."
		if uuid != "" {
			msg += " Plannr accepted the request, so the change was probably made: call list_oauth_connections to check."
		}
		return msg
	default:
		return fmt.Sprintf("Could not complete the call to Plannr: %v. Check the network and the base URL, then try again.", err)
	}
}

func (t *Toolset) describeAPIError(e *plannr.ErrorResponse, uuid string) string {
	quoted := ""
	if e.Message != "" {
		quoted = fmt.Sprintf(" Plannr said: %q.", e.Message)
	}
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
	case code == http.StatusNotFound && uuid != "":
		return fmt.Sprintf("No OAuth connection has uuid %s (404 Not Found). Call list_oauth_connections to see the connections and their uuids.", uuid)
	case code == http.StatusUnprocessableEntity:
		msgs := e.FieldMessages()
		if len(msgs) == 0 && e.Message != "" {
			msgs = []string{e.Message}
		}
		return fmt.Sprintf("Plannr rejected the change (422): %s Fix the arguments and call again.", strings.Join(msgs, " "))
	case code >= 500:
		return fmt.Sprintf("Plannr had a server error (%d %s).%s This is usually temporary; try again in a minute.", code, http.StatusText(code), quoted)
	default:
		return fmt.Sprintf("Plannr answered %d %s.%s", code, http.StatusText(code), quoted)
	}
}

// describeRetryError explains a call that was retried and still failed:
// what kept going wrong, how often and for how long it was retried, and
// when to try again.
func describeRetryError(e *plannr.RetryError, uuid string) string {
	tried := fmt.Sprintf("retried %s over %s", times(e.Attempts-1), humanDuration(e.Elapsed))
	var (
		rateErr *plannr.RateLimitError
		apiErr  *plannr.ErrorResponse
		msg     string
	)
	switch {
	case errors.As(e.Err, &rateErr):
		wait := "a minute"
		if rateErr.RetryAfter > 0 {
			wait = humanDuration(rateErr.RetryAfter)
		}
		// A 429 means Plannr did nothing, so there is no change to check.
		return fmt.Sprintf("Plannr rate-limited us (429 Too Many Attempts); %s; try again in %s, and do not retry in a loop.", tried, wait)
	case errors.As(e.Err, &apiErr):
		quoted := ""
		if apiErr.Message != "" {
			quoted = fmt.Sprintf(" Plannr said: %q.", apiErr.Message)
		}
		msg = fmt.Sprintf("Plannr had a server error (%d %s); %s.%s This is usually temporary; try again in a minute.",
			apiErr.StatusCode, http.StatusText(apiErr.StatusCode), tried, quoted)
	case errors.Is(e.Err, context.DeadlineExceeded):
		msg = fmt.Sprintf("Plannr did not answer in time; %s. It may be slow or unreachable; try again in a minute.", tried)
	default:
		msg = fmt.Sprintf("The connection to Plannr kept failing (%s); %s. Check the network, then try again in a minute.", connectionProblem(e.Err), tried)
	}
	if uuid != "" {
		msg += " The change may or may not have been made: call list_oauth_connections to check before trying again."
	}
	return msg
}

// connectionProblem names a network failure in a few words.
func connectionProblem(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the answer was cut off"
	case errors.Is(err, io.EOF):
		return "the connection closed before an answer"
	default:
		return err.Error()
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

func join(a, b string) string {
	if b == "" {
		return a
	}
	return a + " " + b
}
