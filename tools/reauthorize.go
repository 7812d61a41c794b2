package tools

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// ReauthorizeToolName has a person re-authorize a broken or expiring
// connection, through the client, without the link passing through the
// model.
const ReauthorizeToolName = "reauthorize_oauth_connection"

// ReauthorizeInput is the arguments of reauthorize_oauth_connection.
type ReauthorizeInput struct {
	UUID string `json:"uuid" jsonschema:"required,format=uuid" jsonschema_description:"The connection's uuid, from list_oauth_connections."`
}

// Outcomes of reauthorize_oauth_connection.
const (
	outcomeFixed       = "reauthorized"
	outcomeStillBroken = "not_completed"
	outcomeNotNeeded   = "not_needed"
	outcomeLinkGiven   = "link_given"
)

// ReauthorizeOutput is the result of reauthorize_oauth_connection: the
// outcome and how the connection stands now.
type ReauthorizeOutput struct {
	Outcome               string  `json:"outcome" jsonschema:"required,enum=reauthorized,enum=not_completed,enum=declined,enum=cancelled,enum=not_needed,enum=link_given" jsonschema_description:"reauthorized: the refresh token was renewed; link_given: the link is in the text, for the person to open."`
	UUID                  string  `json:"uuid" jsonschema:"required"`
	Status                Status  `json:"status" jsonschema:"required,enum=healthy,enum=expiring,enum=needs_reauthorization,enum=unknown"`
	RefreshTokenExpiresAt *string `json:"refresh_token_expires_at" jsonschema:"required,oneof_type=string;null"`
}

// reauthorizeOutput is how conn stands now, after outcome.
func (t *Toolset) reauthorizeOutput(outcome string, conn plannr.Connection) ReauthorizeOutput {
	health := connectionHealth(conn, t.now(), DefaultExpiringWithinDays)
	return ReauthorizeOutput{Outcome: outcome, UUID: conn.UUID, Status: health.Status, RefreshTokenExpiresAt: formatExpiry(conn.RefreshTokenExpiresAt)}
}

const reauthorizeDescription = `Have the person re-authorize a connection that needs it or is expiring: the client opens its page at the third party for them, and this tool waits, then checks with Plannr that the refresh token was renewed.`

// reauthorizeID keys the request to open the link among a call's input requests.
const reauthorizeID = "reauthorize"

// Bounds of the wait for a person to finish re-authorizing.
const (
	// DefaultReauthorizeWait is how long the tool waits, checking with
	// Plannr, for the refresh-token expiry to move. It stays under the
	// 60-second request timeout common among clients (the TypeScript SDK's
	// default); the progress notifications sent while waiting let clients
	// that reset their timeout on progress wait longer.
	DefaultReauthorizeWait = 50 * time.Second
	// reauthorizePoll is how often it checks.
	reauthorizePoll = 2 * time.Second
)

func (t *Toolset) reauthorizeTool() Tool {
	return newTool(t, toolSpec{
		name: ReauthorizeToolName, title: "Re-authorize an OAuth connection", description: reauthorizeDescription,
		idempotent: true,
	}, t.reauthorize)
}

// reauthorizeState is what the request to open the link carries through
// the client.
type reauthorizeState struct {
	UUID          string `json:"u"`
	ElicitationID string `json:"e"`
	// Expiry is the refresh-token expiry when the person was asked, unix
	// seconds; 0 for one that never expires or is unknown.
	Expiry   int64 `json:"x"`
	IssuedAt int64 `json:"t"`
}

func (t *Toolset) reauthorize(ctx context.Context, req mcp.CallToolRequest, in ReauthorizeInput) (ReauthorizeOutput, string, error) {
	uuid, err := canonicalUUID(in.UUID)
	if err != nil {
		return ReauthorizeOutput{}, "", err
	}
	conn, err := t.lookUp(ctx, uuid)
	if err != nil {
		return ReauthorizeOutput{}, "", err
	}
	now := t.now()
	health := connectionHealth(conn, now, DefaultExpiringWithinDays)
	if len(req.Params.InputResponses) > 0 || req.Params.RequestState != "" {
		return t.finishReauthorize(ctx, req, conn)
	}
	if health.Status == StatusHealthy {
		return t.reauthorizeOutput(outcomeNotNeeded, conn), fmt.Sprintf("%s needs no re-authorization: %s. Nothing was asked of the person.", untrusted.Quote(conn.Label), describeHealth(conn, health, now)), nil
	}
	link := reauthorizeLink(conn)
	if link == "" {
		return ReauthorizeOutput{}, "", asIs(mcp.NewToolResultError(fmt.Sprintf("Plannr sent no usable re-authorization link for %s (uuid %s), so there is nothing to open. A person must re-authorize it in Plannr itself.", untrusted.Quote(conn.Label), conn.UUID)))
	}
	if !clientCanOpenLinks(ctx) {
		return t.reauthorizeOutput(outcomeLinkGiven, conn), fmt.Sprintf("This client cannot open a link for the person, so give them this one to open in a browser, where they sign in to %s: %s . It re-authorizes %s (uuid %s). Then call list_oauth_connections to check that its refresh token was renewed.",
			providerName(conn), link, untrusted.Quote(conn.Label), conn.UUID), nil
	}
	state := reauthorizeState{UUID: conn.UUID, ElicitationID: rand.Text(), Expiry: expiryUnix(conn), IssuedAt: now.Unix()}
	payload, err := json.Marshal(state)
	if err != nil {
		return ReauthorizeOutput{}, "", fmt.Errorf("encoding the request state: %w", err)
	}
	ask := mcp.ElicitationParams{
		Mode:          mcp.ElicitationModeURL,
		ElicitationID: state.ElicitationID,
		URL:           link,
		Message: fmt.Sprintf("Re-authorize the Plannr connection %s (%s): the page opens at %s, where you sign in and approve. The assistant waits for you to finish.",
			untrusted.Quote(conn.Label), providerName(conn), providerName(conn)),
	}
	return ReauthorizeOutput{}, "", asIs(server.NewInputRequestBuilder(t.seal(ctx, purposeReauthorize, payload)).Elicit(reauthorizeID, ask).ToolResult())
}

// finishReauthorize handles the call that carries the person's answer:
// it waits, within the bound, for Plannr to show a renewed refresh token.
func (t *Toolset) finishReauthorize(ctx context.Context, req mcp.CallToolRequest, conn plannr.Connection) (ReauthorizeOutput, string, error) {
	var state reauthorizeState
	payload, err := t.open(ctx, purposeReauthorize, req.Params.RequestState)
	if err == nil {
		err = json.Unmarshal(payload, &state)
	}
	if err != nil || state.UUID != conn.UUID {
		return ReauthorizeOutput{}, "", asIs(mcp.NewToolResultError("The request state of this call was not issued by this server for this connection. Nothing was done; call reauthorize_oauth_connection again without it."))
	}
	if age := t.now().Sub(time.Unix(state.IssuedAt, 0)); age > confirmationTTL || age < -time.Minute {
		return ReauthorizeOutput{}, "", asIs(mcp.NewToolResultError(fmt.Sprintf("This re-authorization was started more than %s ago. Call reauthorize_oauth_connection again to start anew.", confirmationTTL)))
	}
	answer := server.ElicitationResponse(req.Params.InputResponses, reauthorizeID)
	if answer == nil || answer.Action != mcp.ElicitationResponseActionAccept {
		action := "declined"
		if answer != nil && answer.Action == mcp.ElicitationResponseActionCancel {
			action = "cancelled"
		}
		health := connectionHealth(conn, t.now(), DefaultExpiringWithinDays)
		return t.reauthorizeOutput(action, conn),
			fmt.Sprintf("The person %s opening the re-authorization page, so %s is unchanged: %s. Do not ask again unless they want to.", action, untrusted.Quote(conn.Label), describeExpiry(conn, health, t.now())), nil
	}
	fixed, renewed, err := t.awaitRenewal(ctx, req, conn, state.Expiry)
	if err != nil {
		return ReauthorizeOutput{}, "", err
	}
	health := connectionHealth(fixed, t.now(), DefaultExpiringWithinDays)
	if !renewed {
		return t.reauthorizeOutput(outcomeStillBroken, fixed), fmt.Sprintf("Plannr does not show %s as re-authorized yet: %s. Ask the person whether they finished signing in at %s; if not, call reauthorize_oauth_connection again, and if they did, call list_oauth_connections in a minute to check.",
			untrusted.Quote(fixed.Label), describeExpiry(fixed, health, t.now()), providerName(fixed)), nil
	}
	t.completeElicitation(ctx, state.ElicitationID)
	return t.reauthorizeOutput(outcomeFixed, fixed), fmt.Sprintf("Re-authorized %s: %s.", untrusted.Quote(fixed.Label), describeHealth(fixed, health, t.now())), nil
}

// awaitRenewal checks with Plannr until the connection's refresh-token
// expiry is later than before, or the wait's bound passes; it reports the
// connection as last seen and whether it was renewed. Each check is a
// progress notification for a client that asked for them.
func (t *Toolset) awaitRenewal(ctx context.Context, req mcp.CallToolRequest, conn plannr.Connection, before int64) (plannr.Connection, bool, error) {
	wait := t.opts.ReauthorizeWait
	if wait <= 0 {
		wait = DefaultReauthorizeWait
	}
	start := time.Now()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(reauthorizePoll)
	defer tick.Stop()
	for {
		now, err := t.lookUp(ctx, conn.UUID)
		if err != nil {
			return plannr.Connection{}, false, err
		}
		if after := expiryUnix(now); after > before || (before != 0 && now.RefreshTokenExpiresAt == nil && now.Known(fieldRefreshExpiry)) {
			return now, true, nil
		}
		waited := time.Since(start)
		reportProgress(ctx, req, waited.Seconds(), wait.Seconds(),
			fmt.Sprintf("Waiting for the person to finish re-authorizing at %s (%ds of %ds).", providerName(now), int(waited.Seconds()), int(wait.Seconds())))
		select {
		case <-tick.C:
		case <-deadline.C:
			return now, false, nil
		case <-ctx.Done():
			return plannr.Connection{}, false, ctx.Err()
		}
	}
}

// reportProgress sends a progress notification for the call, when the
// client asked for them with a progress token.
func reportProgress(ctx context.Context, req mcp.CallToolRequest, progress, total float64, message string) {
	s := server.ServerFromContext(ctx)
	if s == nil || req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return
	}
	_ = s.SendNotificationToClient(ctx, "notifications/progress", map[string]any{
		"progressToken": req.Params.Meta.ProgressToken, "progress": progress, "total": total, "message": message,
	})
}

// lookUp finds a connection at Plannr now.
func (t *Toolset) lookUp(ctx context.Context, uuid string) (plannr.Connection, error) {
	conns, err := t.api.ListOAuthConnections(ctx)
	if err != nil {
		return plannr.Connection{}, err
	}
	conn, ok := findConnection(conns, uuid)
	if !ok {
		return plannr.Connection{}, asIs(mcp.NewToolResultError(fmt.Sprintf("No OAuth connection has uuid %s. Call list_oauth_connections to see the connections and their uuids.", uuid)))
	}
	return conn, nil
}

// completeElicitation tells a client that asked the person in the older
// way (elicitation/create, before 2026-07-28) that the page's work is done,
// so it can close what it showed.
func (t *Toolset) completeElicitation(ctx context.Context, id string) {
	s := server.ServerFromContext(ctx)
	session := server.ClientSessionFromContext(ctx)
	if s == nil || session == nil {
		return
	}
	if err := s.SendElicitationComplete(ctx, session, id); err != nil && !errors.Is(err, server.ErrNoActiveSession) {
		t.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "could not notify the client that the re-authorization completed", slog.String("error", err.Error()))
	}
}

// clientCanOpenLinks reports whether the client declared URL-mode
// elicitation: per request from protocol 2026-07-28 on, per session before.
func clientCanOpenLinks(ctx context.Context) bool {
	caps := clientCapabilities(ctx)
	return caps != nil && caps.Elicitation != nil && caps.Elicitation.URL != nil
}

// expiryUnix is a connection's refresh-token expiry in unix seconds; 0 for
// one that never expires or is unknown.
func expiryUnix(c plannr.Connection) int64 {
	if c.RefreshTokenExpiresAt == nil {
		return 0
	}
	return c.RefreshTokenExpiresAt.Unix()
}
