// Package plannr is a typed client for the parts of the Plannr CRM API that
// manage OAuth2 connections. It knows nothing of MCP.
package plannr

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	sjson "github.com/segmentio/encoding/json"
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

// Connection is one OAuth2 connection between a Plannr account and a third
// party. Every string in it is Plannr's data, untrusted.
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
	// AccessTokenExpiresAt is when the access token expires; nil means it
	// never expires, unless the field is Unreadable.
	AccessTokenExpiresAt *time.Time
	// RefreshTokenExpiresAt is when the refresh token expires; nil means it
	// never expires, unless the field is Unreadable.
	RefreshTokenExpiresAt *time.Time
	// RefreshAuthorizationURL is the page a person opens to re-authorize the connection.
	RefreshAuthorizationURL string
	// Unreadable lists the fields Plannr sent for this connection that
	// could not be read. Each is left at its zero value, which then means
	// "unknown": a nil expiry in Unreadable is not "never expires".
	Unreadable []FieldError
}

// Known reports whether field, named as Plannr names it (such as
// "refresh_token_expires_at"), was read.
func (c *Connection) Known(field string) bool {
	return !slices.ContainsFunc(c.Unreadable, func(f FieldError) bool { return f.Field == field })
}

// FieldError is one field of a record from Plannr that could not be read.
type FieldError struct {
	// Field is the field's name in Plannr's answer; "record" when the
	// record as a whole could not be read.
	Field string
	// Value is what Plannr sent, as JSON. It is untrusted text.
	Value string
	// Err says what is wrong with it.
	Err error
}

func (f FieldError) Error() string { return fmt.Sprintf("field %s: %v", f.Field, f.Err) }

// Names of the timestamp fields of a connection.
const (
	fieldCreatedAt     = "created_at"
	fieldUpdatedAt     = "updated_at"
	fieldAccessExpiry  = "access_token_expires_at"
	fieldRefreshExpiry = "refresh_token_expires_at"
)

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

// connection parses the wire form's timestamps. A timestamp that cannot be
// parsed is left unknown and listed in Unreadable; it does not spoil the
// rest of the connection.
func (w *wireConnection) connection() Connection {
	c := Connection{
		UUID:                    w.UUID,
		Label:                   w.Label,
		Provider:                w.Provider,
		RefreshAuthorizationURL: w.RefreshAuthorizationURL,
	}
	read := func(field string, s *string) *time.Time {
		t, err := parseOptionalTime(s)
		if err != nil {
			v, _ := json.Marshal(*s)
			c.Unreadable = append(c.Unreadable, FieldError{Field: field, Value: string(v), Err: err})
		}
		return t
	}
	if t := read(fieldCreatedAt, w.CreatedAt); t != nil {
		c.CreatedAt = *t
	}
	if t := read(fieldUpdatedAt, w.UpdatedAt); t != nil {
		c.UpdatedAt = *t
	}
	c.AccessTokenExpiresAt = read(fieldAccessExpiry, w.AccessTokenExpiresAt)
	c.RefreshTokenExpiresAt = read(fieldRefreshExpiry, w.RefreshTokenExpiresAt)
	return c
}

// errNoList reports a list answer without its "data" array.
var errNoList = errors.New(`the answer has no "data" list of connections`)

// decodeList decodes the answer to GET /api/v1/oauth/connections in one
// pass. Only when a record has the wrong shape (a label that is a number,
// say) is it decoded again record by record, so that that record is
// reported as unreadable instead of failing the whole list.
func decodeList(body []byte) ([]Connection, error) {
	var typed struct {
		Data *[]wireConnection `json:"data"`
	}
	if err := decodeJSON(body, &typed); err == nil {
		if typed.Data == nil {
			return nil, errNoList
		}
		conns := make([]Connection, len(*typed.Data))
		for i := range *typed.Data {
			conns[i] = (*typed.Data)[i].connection()
		}
		return conns, nil
	}
	var records struct {
		Data *[]json.RawMessage `json:"data"`
	}
	if err := decodeJSON(body, &records); err != nil {
		return nil, err
	}
	if records.Data == nil {
		return nil, errNoList
	}
	conns := make([]Connection, 0, len(*records.Data))
	for _, raw := range *records.Data {
		var w wireConnection
		if err := decodeJSON(raw, &w); err != nil {
			conns = append(conns, unreadableRecord(raw, err))
			continue
		}
		conns = append(conns, w.connection())
	}
	return conns, nil
}

// unreadableRecord is a record of the list that is not a connection's
// shape: what can be learned of it (its uuid) and why it could not be read.
func unreadableRecord(raw json.RawMessage, err error) Connection {
	var id struct {
		UUID any `json:"uuid"`
	}
	_ = json.Unmarshal(raw, &id)
	uuid, _ := id.UUID.(string)
	value := string(raw)
	if len(value) > 200 {
		value = value[:200]
	}
	return Connection{UUID: uuid, Unreadable: []FieldError{{Field: "record", Value: value, Err: err}}}
}

// connectionBody is an answer holding one connection, which Plannr
// documents as unwrapped but which Laravel resources often wrap in "data".
// Both forms decode in one pass over the answer; a "data" member is decoded
// again only when there is one.
type connectionBody struct {
	Data json.RawMessage `json:"data"`
	wireConnection
}

func (b *connectionBody) connection() (*Connection, error) {
	w := &b.wireConnection
	if len(b.Data) > 0 && string(b.Data) != "null" {
		var wrapped wireConnection
		if err := decodeJSON(b.Data, &wrapped); err == nil && wrapped.UUID != "" {
			w = &wrapped
		}
	}
	if w.UUID == "" {
		return nil, errors.New("the answer holds no connection")
	}
	conn := w.connection()
	return &conn, nil
}

// decodeJSON decodes a whole answer. Decoding Plannr's answer is the
// largest piece of a list call's own work; segmentio/encoding/json, a
// drop-in replacement for encoding/json (and what the official MCP Go SDK
// decodes with), reads a list of connections about four times faster.
func decodeJSON(data []byte, v any) error { return sjson.Unmarshal(data, v) }

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
	return time.Time{}, fmt.Errorf("not a timestamp Plannr sends (RFC 3339 with an offset, or 2006-01-02 15:04:05): %w", firstErr)
}

// parseOptionalTime parses a timestamp field, mapping null or blank to nil.
func parseOptionalTime(s *string) (*time.Time, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	t, err := ParseTime(*s)
	if err != nil {
		return nil, err
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

// uuidPattern is a uuid in its textual form, in either case.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// CanonicalUUID returns s as Plannr writes uuids, in lower case, if it is
// a uuid. Plannr compares uuids as they are written, so an upper-case copy
// of one finds nothing.
func CanonicalUUID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !uuidPattern.MatchString(s) {
		return "", false
	}
	return strings.ToLower(s), true
}
