package tools

import (
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// DefaultExpiringWithinDays is how close to expiry, in days, a token must be
// before it counts as expiring, when a call does not say.
const DefaultExpiringWithinDays = 14

// maxExpiringWithinDays bounds the expiring window a call may ask for.
const maxExpiringWithinDays = 3650

// Fields of a connection as Plannr names them, for Connection.Known.
const (
	fieldAccessExpiry  = "access_token_expires_at"
	fieldRefreshExpiry = "refresh_token_expires_at"
	// fieldRecord is a record that could not be read at all.
	fieldRecord = "record"
)

// day is the length of a "day" in days_left: 24 hours, whatever the calendar says.
const day = 24 * time.Hour

// TokenState is the state of one token at a moment in time.
type TokenState string

// The states a token can be in.
const (
	// TokenNeverExpires is a token with no expiry.
	TokenNeverExpires TokenState = "never_expires"
	// TokenValid is a token that expires later than the expiring window.
	TokenValid TokenState = "valid"
	// TokenExpiring is a token that has not expired but will within the window.
	TokenExpiring TokenState = "expiring"
	// TokenExpired is a token whose expiry is now or in the past.
	TokenExpired TokenState = "expired"
	// TokenUnknown is a token whose expiry Plannr sent in a form that
	// cannot be read.
	TokenUnknown TokenState = "unknown"
)

// Status is a connection's overall health, which depends on its refresh
// token only: an expired access token is refreshed automatically.
type Status string

// The overall states of a connection.
const (
	// StatusHealthy is a connection whose refresh token never expires or
	// is valid beyond the expiring window.
	StatusHealthy Status = "healthy"
	// StatusExpiring is a connection that still works but whose refresh token
	// expires within the window: a person should re-authorize it soon.
	StatusExpiring Status = "expiring"
	// StatusNeedsReauthorization is a connection whose refresh token has
	// expired: it no longer works until a person re-authorizes it.
	StatusNeedsReauthorization Status = "needs_reauthorization"
	// StatusUnknown is a connection whose refresh-token expiry Plannr sent
	// in a form that cannot be read: whether it works is not known.
	StatusUnknown Status = "unknown"
)

// TokenHealth is the computed state of one token.
type TokenHealth struct {
	State TokenState `json:"state" jsonschema:"required,enum=never_expires,enum=valid,enum=expiring,enum=expired,enum=unknown"`
	// DaysLeft is nil for a token that never expires or whose expiry is unknown.
	DaysLeft *int `json:"days_left" jsonschema:"required,oneof_type=integer;null" jsonschema_description:"Whole days to expiry, truncated; negative once expired; null = never or unknown."`
}

// HealthOutput is a connection's computed health.
type HealthOutput struct {
	Status               Status      `json:"status" jsonschema:"required,enum=healthy,enum=expiring,enum=needs_reauthorization,enum=unknown"`
	NeedsReauthorization bool        `json:"needs_reauthorization" jsonschema:"required"`
	AccessToken          TokenHealth `json:"access_token" jsonschema:"required"`
	RefreshToken         TokenHealth `json:"refresh_token" jsonschema:"required"`
}

// tokenHealth classifies a token that expires at at (nil: never), seen at now
// with an expiring window of withinDays days. A token expires at the instant
// at: from then on it is expired. A token exactly withinDays days from expiry
// is expiring.
func tokenHealth(at *time.Time, now time.Time, withinDays int) TokenHealth {
	if at == nil {
		return TokenHealth{State: TokenNeverExpires}
	}
	left := at.Sub(now)
	days := daysLeft(left)
	switch {
	case left <= 0:
		return TokenHealth{State: TokenExpired, DaysLeft: &days}
	case left <= time.Duration(withinDays)*day:
		return TokenHealth{State: TokenExpiring, DaysLeft: &days}
	default:
		return TokenHealth{State: TokenValid, DaysLeft: &days}
	}
}

// daysLeft is d in whole days, truncated towards zero: 4 days and 23 hours
// left is 4, and expired 3 days and 2 hours ago is -3.
func daysLeft(d time.Duration) int { return int(d / day) }

// connectionHealth computes a connection's health at now. An expiry
// Plannr sent in a form that cannot be read makes that token's state, and
// for the refresh token the connection's status, unknown.
func connectionHealth(c plannr.Connection, now time.Time, withinDays int) HealthOutput {
	h := HealthOutput{
		AccessToken:  tokenHealth(c.AccessTokenExpiresAt, now, withinDays),
		RefreshToken: tokenHealth(c.RefreshTokenExpiresAt, now, withinDays),
	}
	if !c.Known(fieldAccessExpiry) || !c.Known(fieldRecord) {
		h.AccessToken = TokenHealth{State: TokenUnknown}
	}
	if !c.Known(fieldRefreshExpiry) || !c.Known(fieldRecord) {
		h.RefreshToken = TokenHealth{State: TokenUnknown}
	}
	switch h.RefreshToken.State {
	case TokenUnknown:
		h.Status = StatusUnknown
	case TokenExpired:
		h.Status = StatusNeedsReauthorization
		h.NeedsReauthorization = true
	case TokenExpiring:
		h.Status = StatusExpiring
	default:
		h.Status = StatusHealthy
	}
	return h
}
