package peruser

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// ErrSignInRequired reports a person whose Plannr sign-in can no longer
// be used: they must connect their MCP client again, which signs them in.
var ErrSignInRequired = errors.New("your Plannr sign-in through plannr-mcp has expired or was revoked")

// errClientRefused is what a person is told when Plannr refuses
// plannr-mcp's own client.
var errClientRefused = errors.New("plannr-mcp's access to Plannr is misconfigured (Plannr refused its OAuth2 client); tell the server's operator")

// errNoPerson reports a call that reached the tools without a person, which
// the HTTP server's token check never lets happen.
var errNoPerson = errors.New("this call carries no signed-in person")

// Identity is who a call acts for, as the token check found.
type Identity struct {
	// UserID is plannr-mcp's id of the person.
	UserID string
	// AccountUUID is the account their calls act for.
	AccountUUID string
}

// Options configures Users.
type Options struct {
	// Store holds the people's Plannr tokens.
	Store store.Store
	// Identify says who a call's context acts for.
	Identify func(ctx context.Context) (Identity, bool)
	// BaseURL is Plannr's.
	BaseURL string
	// ClientSecret is plannr-mcp's Plannr client secret, which refreshes
	// need.
	ClientSecret string
	// ClientOptions are the options of every person's Plannr client
	// (timeouts, retries, logging, secrets); the account, the rate
	// limiter and the transport are set per person here.
	ClientOptions []plannr.Option
	// RateLimit is each person's budget: Plannr's limit is per user.
	RateLimit plannr.RateLimit
	// RefreshTimeout bounds a refresh; zero means auth's default.
	RefreshTimeout time.Duration
	// Secrets receive each person's tokens, in a slot of their own.
	Secrets *untrusted.Secrets
	// Logger records refreshes and problems, never a token.
	Logger *slog.Logger
	// MaxCached bounds the people whose clients are kept; zero means 10000.
	MaxCached int
	// OnRefresh, if set, is told of each refresh of a person's Plannr
	// tokens (auth.SourceOptions.OnRefresh), for metrics.
	OnRefresh func(err error)
}

// Users is the Plannr API of the tools, acting for whoever makes each
// call: it implements tools.API.
type Users struct {
	opts      Options
	transport http.RoundTripper

	mu     sync.Mutex
	people map[string]*person
}

// person is one person's Plannr client.
type person struct {
	account string
	client  *plannr.Client
	slot    string
	used    time.Time
}

// New returns the per-person API.
func New(opts Options) *Users {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxCached <= 0 {
		opts.MaxCached = 10_000
	}
	return &Users{opts: opts, transport: plannr.NewTransport(), people: map[string]*person{}}
}

// client returns the Plannr client of the person ctx acts for.
func (u *Users) client(ctx context.Context) (*plannr.Client, string, error) {
	id, ok := u.opts.Identify(ctx)
	if !ok || id.UserID == "" {
		return nil, "", &plannr.CredentialError{Err: errNoPerson}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if p, ok := u.people[id.UserID]; ok && p.account == id.AccountUUID {
		p.used = time.Now()
		return p.client, id.UserID, nil
	}
	slot := "plannr login of " + id.UserID
	source := auth.NewRecordSource(records{st: u.opts.Store, userID: id.UserID, clientSecret: u.opts.ClientSecret}, auth.SourceOptions{
		BaseURL:        u.opts.BaseURL,
		Logger:         u.opts.Logger.With("user", id.UserID),
		RefreshTimeout: u.opts.RefreshTimeout,
		Secrets:        u.opts.Secrets,
		SecretsSlot:    slot,
		ReuseLoaded:    true,
		OnRefresh:      u.opts.OnRefresh,
	})
	opts := append(append([]plannr.Option{}, u.opts.ClientOptions...),
		plannr.WithBaseURL(u.opts.BaseURL),
		plannr.WithAccountUUID(id.AccountUUID),
		plannr.WithRateLimit(u.opts.RateLimit),
		plannr.WithTransport(u.transport),
	)
	c, err := plannr.NewClient(source, opts...)
	if err != nil {
		return nil, "", err
	}
	if len(u.people) >= u.opts.MaxCached {
		u.evictLocked()
	}
	u.people[id.UserID] = &person{account: id.AccountUUID, client: c, slot: slot, used: time.Now()}
	return c, id.UserID, nil
}

// evictLocked drops the least recently used person's client and forgets
// their secrets; the caller holds u.mu.
func (u *Users) evictLocked() {
	var oldest string
	var at time.Time
	for id, p := range u.people {
		if oldest == "" || p.used.Before(at) {
			oldest, at = id, p.used
		}
	}
	if p, ok := u.people[oldest]; ok {
		u.opts.Secrets.Set(p.slot)
		delete(u.people, oldest)
	}
}

// Forget drops what the process holds of a person: their client and the
// secrets of their login.
func (u *Users) Forget(userID string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if p, ok := u.people[userID]; ok {
		u.opts.Secrets.Set(p.slot)
		delete(u.people, userID)
	}
}

// outcome turns a failure that means the person must sign in again into
// advice that says how, and revokes their MCP grants so that their client
// is asked to authorize again at its next request.
func (u *Users) outcome(ctx context.Context, userID string, err error) error {
	if errors.Is(err, auth.ErrClientRefused) {
		// plannr-mcp's own client is at fault, not the person's sign-in:
		// nobody is signed out for it.
		u.opts.Logger.Error("Plannr refused plannr-mcp's OAuth2 client id or secret at a refresh: check PLANNR_CLIENT_ID and PLANNR_CLIENT_SECRET", "user", userID)
		return &plannr.CredentialError{Err: errClientRefused}
	}
	if err == nil || !(errors.Is(err, auth.ErrLoginRequired) || errors.Is(err, ErrSignInRequired)) {
		return err
	}
	u.opts.Logger.Warn("a person's Plannr sign-in can no longer be used; their MCP grants are revoked so that their client signs them in again", "user", userID)
	if ferr := u.opts.Store.Forget(context.WithoutCancel(ctx), userID, time.Now()); ferr != nil {
		u.opts.Logger.Error("revoking the grants of a person whose Plannr sign-in ended", "error", ferr)
	}
	u.Forget(userID)
	return &plannr.CredentialError{Err: ErrSignInRequired}
}

// ListOAuthConnections lists the person's connections.
func (u *Users) ListOAuthConnections(ctx context.Context) ([]plannr.Connection, error) {
	c, id, err := u.client(ctx)
	if err != nil {
		return nil, err
	}
	conns, err := c.ListOAuthConnections(ctx)
	return conns, u.outcome(ctx, id, err)
}

// RenameOAuthConnection renames one of the person's connections.
func (u *Users) RenameOAuthConnection(ctx context.Context, uuid, label string) (*plannr.Connection, error) {
	c, id, err := u.client(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := c.RenameOAuthConnection(ctx, uuid, label)
	return conn, u.outcome(ctx, id, err)
}

// DeleteOAuthConnection deletes one of the person's connections.
func (u *Users) DeleteOAuthConnection(ctx context.Context, uuid string) error {
	c, id, err := u.client(ctx)
	if err != nil {
		return err
	}
	return u.outcome(ctx, id, c.DeleteOAuthConnection(ctx, uuid))
}

// ListLogins lists the person's logins and accounts.
func (u *Users) ListLogins(ctx context.Context) ([]plannr.Login, error) {
	c, id, err := u.client(ctx)
	if err != nil {
		return nil, err
	}
	logins, err := c.ListLogins(ctx)
	return logins, u.outcome(ctx, id, err)
}
