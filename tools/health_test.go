package tools

import (
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr"
)

func intPtr(n int) *int { return &n }

// TestTokenHealthAtTheEdges pins each state's boundaries to the second,
// with expiries written as Plannr writes them: UTC with microseconds, or
// with an offset.
func TestTokenHealthAtTheEdges(t *testing.T) {
	now := testNow // 2026-11-23T12:00:00Z
	tests := []struct {
		name     string
		expiry   string // as Plannr sends it; "" means blank
		within   int
		state    TokenState
		daysLeft *int
	}{
		{"blank never expires", "", 14, TokenNeverExpires, nil},
		{"blank of spaces never expires", "   ", 14, TokenNeverExpires, nil},
		{"expires exactly now", "2026-11-23T12:00:00.000000Z", 14, TokenExpired, intPtr(0)},
		{"expired a second ago", "2026-11-23T11:59:59.000000Z", 14, TokenExpired, intPtr(0)},
		{"expired a microsecond ago", "2026-11-23T11:59:59.999999Z", 14, TokenExpired, intPtr(0)},
		{"expires in a microsecond", "2026-11-23T12:00:00.000001Z", 14, TokenExpiring, intPtr(0)},
		{"expired exactly a day ago", "2026-11-22T12:00:00.000000Z", 14, TokenExpired, intPtr(-1)},
		{"expired three and a half days ago", "2026-11-20T00:00:00.000000Z", 14, TokenExpired, intPtr(-3)},
		{"in a second", "2026-11-23T12:00:01.000000Z", 14, TokenExpiring, intPtr(0)},
		{"in exactly one day", "2026-11-24T12:00:00.000000Z", 14, TokenExpiring, intPtr(1)},
		{"a second short of N days", "2026-12-07T11:59:59.000000Z", 14, TokenExpiring, intPtr(13)},
		{"exactly N days", "2026-12-07T12:00:00.000000Z", 14, TokenExpiring, intPtr(14)},
		{"a second past N days", "2026-12-07T12:00:01.000000Z", 14, TokenValid, intPtr(14)},
		{"exactly N days written with +01:00", "2026-12-07T13:00:00+01:00", 14, TokenExpiring, intPtr(14)},
		{"a second past N days written with +01:00", "2026-12-07T13:00:01+01:00", 14, TokenValid, intPtr(14)},
		{"exactly N days written with -05:00", "2026-12-07T07:00:00-05:00", 14, TokenExpiring, intPtr(14)},
		{"expired a second ago written with +05:30", "2026-11-23T17:29:59+05:30", 14, TokenExpired, intPtr(0)},
		{"Laravel database form is UTC", "2026-12-07 12:00:00", 14, TokenExpiring, intPtr(14)},
		{"exactly one day with N = 1", "2026-11-24T12:00:00.000000Z", 1, TokenExpiring, intPtr(1)},
		{"a second past one day with N = 1", "2026-11-24T12:00:01.000000Z", 1, TokenValid, intPtr(1)},
		{"far future", "2027-11-23T12:00:00.000000Z", 14, TokenValid, intPtr(365)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Parse as the Plannr client does: blank means never.
			var at *time.Time
			if strings.TrimSpace(tt.expiry) != "" {
				parsed, err := plannr.ParseTime(tt.expiry)
				if err != nil {
					t.Fatal(err)
				}
				at = &parsed
			}
			got := tokenHealth(at, now, tt.within)
			if got.State != tt.state {
				t.Errorf("state = %s, want %s", got.State, tt.state)
			}
			switch {
			case (got.DaysLeft == nil) != (tt.daysLeft == nil):
				t.Errorf("days_left = %v, want %v", got.DaysLeft, tt.daysLeft)
			case got.DaysLeft != nil && *got.DaysLeft != *tt.daysLeft:
				t.Errorf("days_left = %d, want %d", *got.DaysLeft, *tt.daysLeft)
			}
		})
	}
}

// TestConnectionHealthDependsOnTheRefreshToken checks the overall status:
// an expired access token alone is healthy, an expired refresh token needs
// re-authorization whatever the access token says.
func TestConnectionHealthDependsOnTheRefreshToken(t *testing.T) {
	at := func(d time.Duration) *time.Time { v := testNow.Add(d); return &v }
	tests := []struct {
		name            string
		access, refresh *time.Time
		status          Status
		needs           bool
	}{
		{"both never expire", nil, nil, StatusHealthy, false},
		{"expired access token, valid refresh token", at(-time.Hour), at(300 * day), StatusHealthy, false},
		{"expired access token, refresh token never expires", at(-time.Hour), nil, StatusHealthy, false},
		{"refresh token expiring", at(time.Hour), at(5 * day), StatusExpiring, false},
		{"refresh token expired a second ago", at(time.Hour), at(-time.Second), StatusNeedsReauthorization, true},
		{"refresh token expired, access token never expires", nil, at(-3 * day), StatusNeedsReauthorization, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := connectionHealth(plannr.Connection{AccessTokenExpiresAt: tt.access, RefreshTokenExpiresAt: tt.refresh}, testNow, 14)
			if h.Status != tt.status || h.NeedsReauthorization != tt.needs {
				t.Errorf("status %s, needs_reauthorization %v; want %s, %v", h.Status, h.NeedsReauthorization, tt.status, tt.needs)
			}
		})
	}
}
