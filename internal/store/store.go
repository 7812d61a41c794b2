// Package store keeps what the remote, multi-user HTTP mode must remember
// across requests, processes and replicas: the MCP clients that registered,
// the people who signed in and what they consented to, authorization codes,
// MCP token families (hashes of the tokens only, never the tokens), the
// authorization requests in flight towards Plannr, and each person's Plannr
// tokens, encrypted at rest with AES-GCM (see Keyring).
//
// Store is the one interface; Open returns the SQLite implementation (the
// embedded default, for one machine and several processes) or the
// PostgreSQL one (for replicas behind a load balancer). Both are the same
// SQL behind database/sql, and one contract suite (storetest) runs against
// both.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound reports a row that does not exist (or has expired).
var ErrNotFound = errors.New("not found")

// ErrUsed reports a single-use value (an authorization code, a refresh
// token) presented a second time. The value it returns alongside is the
// row, so that the caller can revoke what was issued from it.
var ErrUsed = errors.New("already used")

// Store is the persistent state of the authorization server and of the
// people's Plannr tokens. Every method is safe for concurrent use, from
// several processes sharing the same database too.
type Store interface {
	// PutClient registers or refreshes a client.
	PutClient(ctx context.Context, c Client) error
	// Client returns a registered client; ErrNotFound if there is none,
	// or if its cached metadata has expired.
	Client(ctx context.Context, id string) (Client, error)

	// SaveUser records a person who signed in, keyed by e-mail address,
	// and returns them with their id (an existing one, or a new one).
	SaveUser(ctx context.Context, u User) (User, error)
	// User finds a person by id or by e-mail address.
	User(ctx context.Context, idOrEmail string) (User, error)
	// SetAccount sets the Plannr account a person's calls act for.
	SetAccount(ctx context.Context, userID, accountUUID string) error
	// Users lists everyone who signed in, with their grants.
	Users(ctx context.Context) ([]UserSummary, error)
	// Forget revokes every MCP grant of the person and deletes their
	// Plannr tokens and consents; the person row stays, for the record.
	Forget(ctx context.Context, userID string, at time.Time) error

	// PlannrTokens returns the person's Plannr tokens, decrypted;
	// ErrNotFound if none are stored.
	PlannrTokens(ctx context.Context, userID string) ([]byte, error)
	// SavePlannrTokens stores the person's Plannr tokens, encrypted.
	SavePlannrTokens(ctx context.Context, userID string, plaintext []byte, at time.Time) error
	// LockUser takes the person's lock, which holds across processes and,
	// on PostgreSQL, across replicas; it is released by unlock or when the
	// process dies. It guards a refresh of the person's Plannr tokens.
	LockUser(ctx context.Context, userID string) (unlock func(), err error)

	// Consented reports whether the person has allowed the client.
	Consented(ctx context.Context, userID, clientID string) (bool, error)
	// PutConsent remembers that the person allowed the client.
	PutConsent(ctx context.Context, userID, clientID string, at time.Time) error

	// PutPending stores an authorization request in flight, encrypted,
	// until expires.
	PutPending(ctx context.Context, id string, data []byte, expires time.Time) error
	// Pending returns an authorization request in flight, decrypted.
	Pending(ctx context.Context, id string, now time.Time) ([]byte, error)
	// TakePending returns and deletes it, so that it is used once.
	TakePending(ctx context.Context, id string, now time.Time) ([]byte, error)

	// PutCode stores an authorization code by its hash.
	PutCode(ctx context.Context, c Code) error
	// UseCode marks a code used and returns it. A code used before comes
	// back with ErrUsed; an unknown or expired one is ErrNotFound.
	UseCode(ctx context.Context, hash string, now time.Time) (Code, error)

	// PutFamily starts a token family: the grant one authorization made.
	PutFamily(ctx context.Context, f Family) error
	// PutToken stores a token of a family by its hash.
	PutToken(ctx context.Context, t Token) error
	// Token returns the token with this hash and its family; ErrNotFound
	// if there is none.
	Token(ctx context.Context, hash string) (Token, Family, error)
	// UseRefresh marks a refresh token used and returns it with its
	// family; one used before comes back with ErrUsed.
	UseRefresh(ctx context.Context, hash string, now time.Time) (Token, Family, error)
	// RevokeFamily revokes a family and with it every token it holds.
	RevokeFamily(ctx context.Context, familyID string, at time.Time) error
	// TouchFamily records that the family's access token was used.
	TouchFamily(ctx context.Context, familyID, userID string, at time.Time) error

	// Prune deletes what has expired: codes, pending requests, tokens,
	// families whose refresh tokens have all expired or that were revoked
	// long ago, and cached client metadata. It returns how many rows went.
	Prune(ctx context.Context, now time.Time) (int64, error)
	// Rekey encrypts every encrypted row again with the keyring's current
	// key, and returns how many it rewrote.
	Rekey(ctx context.Context) (int64, error)
	// Describe names the store for logs and messages, without a password.
	Describe() string
	// Close releases the database.
	Close() error
}

// Kinds of client registration.
const (
	// ClientDynamic registered with RFC 7591 Dynamic Client Registration.
	ClientDynamic = "dcr"
	// ClientMetadataDocument is a Client ID Metadata Document: its id is
	// the https URL the server fetched the metadata from.
	ClientMetadataDocument = "cimd"
)

// Client is an MCP client known to the authorization server.
type Client struct {
	// ID is the client_id.
	ID string
	// Kind is ClientDynamic or ClientMetadataDocument.
	Kind string
	// Metadata is the client's metadata as JSON (RFC 7591's fields).
	Metadata []byte
	// SecretHash is the SHA-256 (hex) of a confidential client's secret;
	// empty for a public client.
	SecretHash string
	// CreatedAt is when it registered or was first fetched.
	CreatedAt time.Time
	// ExpiresAt is when cached metadata must be fetched again; zero never.
	ExpiresAt time.Time
}

// User is a person who signed in with Plannr.
type User struct {
	// ID is plannr-mcp's own id for the person.
	ID string
	// Email is their Plannr login's e-mail address, in lower case.
	Email string
	// Profile is what Plannr said of them (accounts), as JSON.
	Profile []byte
	// AccountUUID is the account their calls act for.
	AccountUUID string
	// CreatedAt is their first sign-in, SignedInAt their last.
	CreatedAt, SignedInAt time.Time
	// LastUsedAt is their last call, to the minute; zero if none.
	LastUsedAt time.Time
}

// UserSummary is a person with their grants, for operators.
type UserSummary struct {
	User
	// Clients are the client ids with a live grant.
	Clients []string
	// Grants counts live token families.
	Grants int
	// HasPlannrTokens reports Plannr tokens stored for them.
	HasPlannrTokens bool
}

// Code is an authorization code, by the hash of its value.
type Code struct {
	Hash        string
	ClientID    string
	UserID      string
	RedirectURI string
	// Challenge is the PKCE S256 code challenge.
	Challenge string
	Resource  string
	Scope     string
	// FamilyID is the family the code's tokens will belong to, so that a
	// replayed code can revoke them.
	FamilyID  string
	ExpiresAt time.Time
	UsedAt    time.Time
}

// Family is the grant one authorization made: every access and refresh
// token issued from one code, through every rotation.
type Family struct {
	ID       string
	UserID   string
	ClientID string
	// Resource is the audience of its access tokens (RFC 8707).
	Resource   string
	Scope      string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt is when its last refresh token expires.
	ExpiresAt time.Time
	// RevokedAt is when it was revoked; zero if it was not.
	RevokedAt time.Time
	// Email and AccountUUID are the person's, filled in by Token and
	// UseRefresh.
	Email       string
	AccountUUID string
}

// Kinds of token.
const (
	// AccessToken is presented to the MCP endpoint.
	AccessToken = "access"
	// RefreshToken obtains the next pair, once.
	RefreshToken = "refresh"
)

// Token is an MCP token, by the hash of its value.
type Token struct {
	Hash      string
	FamilyID  string
	Kind      string
	ExpiresAt time.Time
	UsedAt    time.Time
}
