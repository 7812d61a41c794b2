// Package plannr is a typed client for the parts of the Plannr CRM API that
// manage OAuth2 connections. It knows nothing of MCP.
package plannr

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Provider is the third party an OAuth2 connection authorizes against.
type Provider struct {
	// Name is the provider's machine name, such as "fundment".
	Name string `json:"name"`
	// Label is the provider's display name, such as "Fundment".
	Label string `json:"label"`
	// LogoURL points at the provider's logo.
	LogoURL string `json:"logo_url"`
	// AuthorizationURL starts a new authorization with the provider.
	AuthorizationURL string `json:"authorization_url"`
}

// Connection is one OAuth2 connection between a Plannr account and a third party.
type Connection struct {
	// UUID identifies the connection.
	UUID string
	// Label is the name a person gave the connection. It is untrusted text.
	Label string
	// Provider is the third party the connection is for.
	Provider Provider
	// CreatedAt and UpdatedAt are when the connection was created and last changed.
	CreatedAt time.Time
	// UpdatedAt is when the connection was last changed.
	UpdatedAt time.Time
	// AccessTokenExpiresAt is when the access token expires; nil means it never expires.
	AccessTokenExpiresAt *time.Time
	// RefreshTokenExpiresAt is when the refresh token expires; nil means it never expires.
	RefreshTokenExpiresAt *time.Time
	// RefreshAuthorizationURL is the page a person opens to re-authorize the connection.
	RefreshAuthorizationURL string
}

// wireConnection is a Connection as Plannr sends it: every timestamp is a
// string, and a blank (or null) expiry means the token never expires.
type wireConnection struct {
	UUID                    string   `json:"uuid"`
	Label                   string   `json:"label"`
	Provider                Provider `json:"provider"`
	CreatedAt               *string  `json:"created_at"`
	UpdatedAt               *string  `json:"updated_at"`
	AccessTokenExpiresAt    *string  `json:"access_token_expires_at"`
	RefreshTokenExpiresAt   *string  `json:"refresh_token_expires_at"`
	RefreshAuthorizationURL string   `json:"refresh_authorization_url"`
}

// UnmarshalJSON decodes a connection from Plannr's wire format. Unknown
// fields are ignored and missing ones left at their zero value.
func (c *Connection) UnmarshalJSON(data []byte) error {
	var w wireConnection
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	conn, err := w.connection()
	if err != nil {
		return err
	}
	*c = conn
	return nil
}

// connection parses the wire form's timestamps. The client decodes answers
// into wireConnection and converts them here, rather than through
// Connection.UnmarshalJSON, so that each answer is scanned once and not
// once more per connection.
func (w *wireConnection) connection() (Connection, error) {
	created, err := parseOptionalTime("created_at", w.CreatedAt)
	if err != nil {
		return Connection{}, err
	}
	updated, err := parseOptionalTime("updated_at", w.UpdatedAt)
	if err != nil {
		return Connection{}, err
	}
	accessExpiry, err := parseOptionalTime("access_token_expires_at", w.AccessTokenExpiresAt)
	if err != nil {
		return Connection{}, err
	}
	refreshExpiry, err := parseOptionalTime("refresh_token_expires_at", w.RefreshTokenExpiresAt)
	if err != nil {
		return Connection{}, err
	}
	c := Connection{
		UUID:                    w.UUID,
		Label:                   w.Label,
		Provider:                w.Provider,
		AccessTokenExpiresAt:    accessExpiry,
		RefreshTokenExpiresAt:   refreshExpiry,
		RefreshAuthorizationURL: w.RefreshAuthorizationURL,
	}
	if created != nil {
		c.CreatedAt = *created
	}
	if updated != nil {
		c.UpdatedAt = *updated
	}
	return c, nil
}

// timeLayouts are the timestamp forms Plannr is known to send: RFC 3339 with
// an offset ("2026-06-08T16:08:03+01:00") or in UTC with microseconds
// ("2026-06-08T19:08:03.847911Z"), and Laravel's plain database form.
var timeLayouts = [...]string{time.RFC3339Nano, "2006-01-02 15:04:05"}

// ParseTime parses a Plannr timestamp.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	var firstErr error
	for _, layout := range timeLayouts {
		t, err := time.Parse(layout, s)
		if err == nil {
			return t, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return time.Time{}, firstErr
}

// parseOptionalTime parses a timestamp field, mapping null or blank to nil.
func parseOptionalTime(field string, s *string) (*time.Time, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	t, err := ParseTime(*s)
	if err != nil {
		return nil, fmt.Errorf("plannr: field %s: %w", field, err)
	}
	return &t, nil
}

// Account is a Plannr account a login can act for.
type Account struct {
	// UUID is the value to send as X-PLANNR-ACCOUNT-UUID.
	UUID string `json:"uuid"`
	// Name is the account's display name.
	Name string `json:"name"`
	// Type is the kind of account, such as "admin" or "client".
	Type string `json:"type"`
}

// Firm is the firm a login belongs to.
type Firm struct {
	// UUID identifies the firm.
	UUID string `json:"uuid"`
	// Name is the firm's display name.
	Name string `json:"name"`
}

// Login is one of the authenticated user's logins, each tied to an account.
type Login struct {
	// UUID identifies the login itself. It is not an account uuid.
	UUID string `json:"uuid"`
	// Email is the login's e-mail address, where Plannr sends one.
	Email string `json:"email"`
	// Account is the account this login acts for.
	Account Account `json:"account"`
	// Firm is the firm the account belongs to.
	Firm Firm `json:"firm"`
	// PreferredAccountUUID is set for integrations made after 2024-11-29.
	PreferredAccountUUID string `json:"preferred_account_uuid"`
}
