package auth

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// recordVersion is the format of the stored login this code writes.
const recordVersion = 1

// RefreshTokenLifetime is how long Plannr's refresh tokens last. Plannr does
// not send it, so a stored refresh token's expiry is an estimate from it.
const RefreshTokenLifetime = 182 * 24 * time.Hour

// defaultAccessLifetime is assumed when Plannr's token answer has no
// expires_in: a stored token with no expiry would never be refreshed.
const defaultAccessLifetime = time.Hour

// Record is a stored OAuth2 login: the tokens, what is needed to refresh
// them, and who logged in. It holds secrets: its String method and
// LogValue show none of them, and it is only ever written to the Store.
type Record struct {
	// Version is the format version; a newer one than this code knows is refused.
	Version int `json:"version"`
	// BaseURL is the Plannr the login is for; its token endpoint is
	// BaseURL/oauth/token.
	BaseURL string `json:"base_url"`
	// ClientID is the OAuth2 client the tokens were issued to.
	ClientID string `json:"client_id"`
	// ClientSecret is that client's secret, needed to refresh.
	ClientSecret string `json:"client_secret,omitempty"`
	// AccessToken is the bearer token sent to the API.
	AccessToken string `json:"access_token"`
	// TokenType is the token's type, normally Bearer.
	TokenType string `json:"token_type,omitempty"`
	// RefreshToken obtains the next access token. Plannr rotates it: each
	// one can be used once.
	RefreshToken string `json:"refresh_token"`
	// Expiry is when the access token expires; never zero once saved.
	Expiry time.Time `json:"expiry"`
	// IssuedAt is when the access token was obtained.
	IssuedAt time.Time `json:"issued_at"`
	// RefreshExpiry is when the refresh token is expected to expire:
	// RefreshTokenLifetime after it was issued.
	RefreshExpiry time.Time `json:"refresh_expiry"`
	// LoggedInAt is when the person logged in.
	LoggedInAt time.Time `json:"logged_in_at"`
	// User is who logged in, as Plannr's /api/v1/logins described them; nil
	// when that could not be read at login.
	User *User `json:"user,omitempty"`
}

// User is the person a login belongs to.
type User struct {
	// Email is the login's e-mail address, where Plannr sent one.
	Email string `json:"email,omitempty"`
	// Accounts are the accounts the person can act for.
	Accounts []Account `json:"accounts,omitempty"`
	// PreferredAccountUUID is the account Plannr suggests, where it said.
	PreferredAccountUUID string `json:"preferred_account_uuid,omitempty"`
}

// Account is an account the logged-in person can act for.
type Account struct {
	// UUID is the value for X-PLANNR-ACCOUNT-UUID.
	UUID string `json:"uuid"`
	// Name is the account's display name.
	Name string `json:"name,omitempty"`
	// Type is the kind of account, such as admin or client.
	Type string `json:"type,omitempty"`
}

// Token returns the record's tokens as an oauth2.Token.
func (r *Record) Token() *oauth2.Token {
	return &oauth2.Token{
		AccessToken:  r.AccessToken,
		TokenType:    r.TokenType,
		RefreshToken: r.RefreshToken,
		Expiry:       r.Expiry,
	}
}

// Who names the person who logged in, for messages.
func (r *Record) Who() string {
	if r.User != nil && r.User.Email != "" {
		return r.User.Email
	}
	if r.User != nil && len(r.User.Accounts) > 0 {
		return "the user of account " + r.User.Accounts[0].Name
	}
	return "an unidentified Plannr user"
}

// String describes the record without any secret.
func (r *Record) String() string {
	return fmt.Sprintf("Plannr login of %s at %s (access token expires %s)",
		r.Who(), r.BaseURL, r.Expiry.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing secrets.
func (r *Record) GoString() string { return r.String() }

// LogValue keeps structured logs from recording secrets.
func (r *Record) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user", r.Who()),
		slog.String("base_url", r.BaseURL),
		slog.Time("access_expiry", r.Expiry),
		slog.Time("refresh_expiry", r.RefreshExpiry),
	)
}

// withToken returns a copy of r holding tok, obtained at now. The expiry
// is computed from expires_in with now, so an injected clock governs it;
// an answer without one gets a short assumed lifetime, so that the token is
// still refreshed in time.
func (r Record) withToken(tok *oauth2.Token, now time.Time) *Record {
	if tok.RefreshToken != "" && tok.RefreshToken != r.RefreshToken {
		r.RefreshExpiry = now.Add(RefreshTokenLifetime)
		r.RefreshToken = tok.RefreshToken
	}
	r.Version = recordVersion
	r.AccessToken = tok.AccessToken
	r.TokenType = tok.TokenType
	r.IssuedAt = now
	switch {
	case tok.ExpiresIn > 0:
		r.Expiry = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	case !tok.Expiry.IsZero():
		r.Expiry = tok.Expiry
	default:
		r.Expiry = now.Add(defaultAccessLifetime)
	}
	return &r
}

// normalizeBaseURL makes base URLs comparable.
func normalizeBaseURL(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }
