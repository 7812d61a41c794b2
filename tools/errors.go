package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

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
	switch {
	case errors.As(err, &argErr):
		return "Invalid arguments: " + argErr.msg + ". Nothing was sent to Plannr."
	case errors.As(err, &credErr):
		return join("Plannr credential problem: "+credErr.Err.Error()+".", t.opts.CredentialHelp)
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

func join(a, b string) string {
	if b == "" {
		return a
	}
	return a + " " + b
}
