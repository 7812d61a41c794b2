package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// Defaults for SourceOptions.
const (
	// DefaultRefreshTimeout bounds one request to the token endpoint.
	DefaultRefreshTimeout = 30 * time.Second
	// DefaultLockTimeout bounds the wait for another process's refresh.
	DefaultLockTimeout = time.Minute
	// maxRefreshMargin is how long before expiry a token is refreshed; a
	// token that lives less than ten times as long is refreshed in its
	// last tenth.
	maxRefreshMargin = time.Minute
)

// SourceOptions configures a Source.
type SourceOptions struct {
	// BaseURL is the Plannr the server talks to; the stored login must be
	// for the same one.
	BaseURL string
	// HTTPClient sends token requests; nil means a client that does not
	// follow redirects.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger records refreshes and problems, never a token; nil discards.
	Logger *slog.Logger
	// RefreshTimeout bounds one refresh request; zero means DefaultRefreshTimeout.
	RefreshTimeout time.Duration
	// LockTimeout bounds the wait for the store's lock; zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// Secrets receives the secrets of the login in use (its tokens and the
	// client secret) so that no upstream text can carry them out, and
	// scrubs the token endpoint's answers; nil holds none.
	Secrets *untrusted.Secrets
	// OnRefresh, if set, is called after each refresh this process sends
	// to the token endpoint, with nil or the refresh's error (which wraps
	// ErrLoginRequired when only a new login helps), for metrics.
	OnRefresh func(err error)
	// SecretsSlot is the slot of Secrets the login's secrets go in; empty
	// means "login". Sources of several people's logins use one each.
	SecretsSlot string
	// ReuseLoaded serves the login this source last read or saved while
	// its access token is fresh, instead of reading the store at every
	// call: for a store where a read is a query. A token another process
	// refreshed meanwhile is then picked up when Plannr rejects the old
	// one (Passport revokes it at the refresh), through Refresh.
	ReuseLoaded bool
}

// Source is an oauth2.TokenSource for the login in a Store. It reads the
// store on each call, so that a token another process refreshed, a new
// login or a logout takes effect at once, without a restart. Shortly
// before the access token expires it refreshes it: at most one refresh at a
// time in this process, under the store's lock across processes, and only
// after re-reading the store under that lock, so that a token another
// process already refreshed is used instead. Each rotated token is saved
// before it is returned.
//
// Source also implements the optional interfaces of plannr.NewClient: it
// takes each request's context, and replaces a token Plannr rejected.
type Source struct {
	store RecordStore
	opts  SourceOptions
	// sem admits one refresh at a time in this process.
	sem chan struct{}

	mu sync.Mutex
	// deadRefresh is a refresh token Plannr refused, and deadErr why: it
	// is not sent again, but a new login replaces it.
	deadRefresh string
	deadErr     error
	// pending is a refreshed login that could not be saved, and
	// pendingFrom the refresh token it replaced: while the store still
	// holds that one, pending is the current login.
	pending     *Record
	pendingFrom string
	// held is the access token whose login's secrets Secrets holds.
	held string
	// loaded is the login last read or saved, for ReuseLoaded.
	loaded *Record
}

// NewSource returns a source for the login in store.
func NewSource(store *Store, opts SourceOptions) *Source {
	return NewRecordSource(fileRecords{store}, opts)
}

// NewRecordSource returns a source for the login in store, with the same
// refresh discipline as the file's: one refresh at a time in the process,
// under store's lock, after re-reading the store under it.
func NewRecordSource(store RecordStore, opts SourceOptions) *Source {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RefreshTimeout <= 0 {
		opts.RefreshTimeout = DefaultRefreshTimeout
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = NewTokenHTTPClient(opts.RefreshTimeout, opts.Secrets)
	}
	if opts.SecretsSlot == "" {
		opts.SecretsSlot = "login"
	}
	opts.BaseURL = normalizeBaseURL(opts.BaseURL)
	return &Source{store: store, opts: opts, sem: make(chan struct{}, 1)}
}

// NewTokenHTTPClient returns an HTTP client for token endpoints. It never
// follows a redirect, which would carry the client secret or a refresh
// token to another address, and it scrubs every error answer of the
// secrets its request carried and of secrets before anything quotes it.
func NewTokenHTTPClient(timeout time.Duration, secrets *untrusted.Secrets) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		Transport:     &untrusted.Transport{Base: http.DefaultTransport, Secrets: secrets},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Token returns a valid access token, refreshing it if it is about to expire.
func (s *Source) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

// TokenContext is Token with a context, which bounds waiting for a refresh
// in progress elsewhere. A refresh request, once sent, is not abandoned
// when ctx ends: Plannr may already have rotated the tokens, and the
// answer must be saved or the login is lost.
func (s *Source) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if s.opts.ReuseLoaded {
		s.mu.Lock()
		rec := s.loaded
		s.mu.Unlock()
		if rec != nil && s.fresh(rec) {
			return rec.Token(), nil
		}
	}
	rec, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	if s.fresh(rec) {
		return rec.Token(), nil
	}
	return s.obtain(ctx, "")
}

// Refresh returns a token to use instead of rejected, which Plannr refused
// although it had not expired (it was revoked, or another process rotated
// it). If the store already holds another valid token it is returned;
// otherwise the login is refreshed.
func (s *Source) Refresh(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error) {
	if rejected == nil {
		rejected = &oauth2.Token{}
	}
	return s.obtain(ctx, rejected.AccessToken)
}

// obtain returns a usable token other than rejected, refreshing at most
// once in this process and across processes.
func (s *Source) obtain(ctx context.Context, rejected string) (*oauth2.Token, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the Plannr login to be refreshed: %w", ctx.Err())
	}
	defer func() { <-s.sem }()

	// Another goroutine may have refreshed while this one waited.
	rec, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	if s.usable(rec, rejected) {
		return rec.Token(), nil
	}

	lockCtx, cancel := context.WithTimeout(ctx, s.opts.LockTimeout)
	unlock, err := s.store.Lock(lockCtx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("waiting for another plannr-mcp process to finish refreshing the Plannr login: %w", err)
	}
	defer unlock()

	// Another process may have refreshed before this one got the lock:
	// its token is in the store, and the refresh token this process read
	// earlier is already spent.
	rec, err = s.current(ctx)
	if err != nil {
		return nil, err
	}
	if s.usable(rec, rejected) {
		return rec.Token(), nil
	}
	return s.refresh(ctx, rec)
}

// current returns the stored login, or the refreshed one this process
// could not save.
func (s *Source) current(ctx context.Context) (*Record, error) {
	rec, err := s.store.Load(ctx)
	if err != nil {
		if errors.Is(err, ErrNotLoggedIn) {
			return nil, fmt.Errorf("%w (%w)", ErrNoCredential, ErrNotLoggedIn)
		}
		return nil, err
	}
	if got := normalizeBaseURL(rec.BaseURL); got != s.opts.BaseURL {
		return nil, fmt.Errorf("%w: the stored login is for %s, but this server talks to %s; run plannr-mcp login with the same base URL",
			ErrLoginRequired, got, s.opts.BaseURL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending != nil {
		if rec.RefreshToken == s.pendingFrom {
			s.holdLocked(s.pending)
			return s.pending, nil
		}
		s.pending, s.pendingFrom = nil, ""
	}
	s.holdLocked(rec)
	s.loaded = rec
	return rec, nil
}

// holdLocked tells Secrets the secrets of rec when they change; the caller
// holds s.mu.
func (s *Source) holdLocked(rec *Record) {
	if rec.AccessToken == s.held {
		return
	}
	s.held = rec.AccessToken
	s.opts.Secrets.Set(s.opts.SecretsSlot, rec.AccessToken, rec.RefreshToken, rec.ClientSecret)
}

// fresh reports whether rec's access token can be used without refreshing.
func (s *Source) fresh(rec *Record) bool {
	if rec.AccessToken == "" || rec.Expiry.IsZero() {
		return false
	}
	return s.opts.Now().Before(rec.Expiry.Add(-refreshMargin(rec)))
}

// usable reports whether rec's access token is fresh and not the rejected one.
func (s *Source) usable(rec *Record, rejected string) bool {
	return s.fresh(rec) && (rejected == "" || rec.AccessToken != rejected)
}

// refreshMargin is how long before its expiry a token is refreshed: a
// minute, or a tenth of the token's lifetime if that is shorter.
func refreshMargin(rec *Record) time.Duration {
	if rec.IssuedAt.IsZero() || !rec.Expiry.After(rec.IssuedAt) {
		return maxRefreshMargin
	}
	return min(maxRefreshMargin, rec.Expiry.Sub(rec.IssuedAt)/10)
}

// refresh uses rec's refresh token and saves the answer before returning
// it. The caller holds the store's lock.
func (s *Source) refresh(ctx context.Context, rec *Record) (*oauth2.Token, error) {
	s.mu.Lock()
	dead, deadErr := s.deadRefresh, s.deadErr
	s.mu.Unlock()
	if rec.RefreshToken == "" {
		return nil, fmt.Errorf("%w (the stored login has no refresh token)", ErrLoginRequired)
	}
	if rec.RefreshToken == dead {
		return nil, deadErr
	}
	conf := oauthConfig(rec.BaseURL, rec.ClientID, rec.ClientSecret, "")
	// Not ctx: once sent, the request must be seen through (see TokenContext).
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.RefreshTimeout)
	defer cancel()
	rctx = context.WithValue(rctx, oauth2.HTTPClient, s.opts.HTTPClient)

	var saved *Record
	src := &notifyingSource{
		// No access token: the refresher refreshes at once.
		base: conf.TokenSource(rctx, &oauth2.Token{RefreshToken: rec.RefreshToken}),
		last: rec.Token(),
		onChange: func(tok *oauth2.Token) error {
			saved = rec.withToken(tok, s.opts.Now())
			s.mu.Lock()
			s.holdLocked(saved)
			s.loaded = saved
			s.mu.Unlock()
			if err := s.store.Save(rctx, saved); err != nil {
				// The old refresh token is spent: dropping the new one would
				// log the person out. Keep it in memory and say so.
				s.opts.Logger.Error("refreshed the Plannr login but could not save it; this process keeps using it, other processes will need a new login",
					"error", err, "store", s.store.String())
				s.mu.Lock()
				s.pending, s.pendingFrom = saved, rec.RefreshToken
				s.mu.Unlock()
			}
			return nil
		},
	}
	_, err := src.Token()
	if s.opts.OnRefresh != nil {
		s.opts.OnRefresh(cmpRefreshError(err, saved))
	}
	if err != nil {
		err = refreshError(err)
		if errors.Is(err, ErrLoginRequired) {
			s.mu.Lock()
			s.deadRefresh, s.deadErr = rec.RefreshToken, err
			s.mu.Unlock()
			s.opts.Logger.Warn("the stored Plannr login can no longer be refreshed; run plannr-mcp login", "error", err)
		}
		return nil, err
	}
	if saved == nil {
		return nil, errSameToken
	}
	s.opts.Logger.Info("refreshed the Plannr login", "login", saved)
	return saved.Token(), nil
}

// cmpRefreshError is a refresh's outcome as OnRefresh reports it.
func cmpRefreshError(err error, saved *Record) error {
	switch {
	case err != nil:
		return refreshError(err)
	case saved == nil:
		return errSameToken
	}
	return nil
}

// errSameToken reports a token endpoint that answered a refresh with the
// token it was given.
var errSameToken = errors.New("refreshing the Plannr login: the token endpoint answered with the same token")

// notifyingSource wraps a token source and calls onChange with each token
// that differs from the last, before returning it. golang.org/x/oauth2 has
// no hook to persist a refreshed token; this is that hook.
type notifyingSource struct {
	base     oauth2.TokenSource
	onChange func(*oauth2.Token) error

	mu   sync.Mutex
	last *oauth2.Token
}

// Token returns base's token after onChange has accepted it, if it is new.
func (n *notifyingSource) Token() (*oauth2.Token, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	tok, err := n.base.Token()
	if err != nil {
		return nil, err
	}
	if n.last == nil || tok.AccessToken != n.last.AccessToken || tok.RefreshToken != n.last.RefreshToken {
		if err := n.onChange(tok); err != nil {
			return nil, err
		}
		n.last = tok
	}
	return tok, nil
}

// oauthConfig is the OAuth2 configuration for Plannr at baseURL. Passport
// reads the client credentials from the form body.
func oauthConfig(baseURL, clientID, clientSecret, redirectURL string) *oauth2.Config {
	base := normalizeBaseURL(baseURL)
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		RedirectURL:  redirectURL,
		Scopes:       []string{"*"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   base + "/oauth/authorize",
			TokenURL:  base + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// refreshError turns a failed refresh into an error for a person. Plannr's
// answers that mean "log in again" wrap ErrLoginRequired. The error never
// includes the response body as a whole: only Passport's error code,
// description and hint, cleaned.
func refreshError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("could not refresh the Plannr login: %w; check the network and try again", err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	said := describeOAuthError(re)
	switch re.ErrorCode {
	case "invalid_grant", "invalid_request":
		// Passport answers 401 invalid_request or 400 invalid_grant for a
		// refresh token that is revoked, already used or expired.
		return fmt.Errorf("%w (Plannr refused the refresh token: %s)", ErrLoginRequired, said)
	case "invalid_client":
		return fmt.Errorf("%w (%w stored with the login: %s; if Plannr issued new ones, set PLANNR_CLIENT_ID and PLANNR_CLIENT_SECRET before logging in)", ErrLoginRequired, ErrClientRefused, said)
	}
	return fmt.Errorf("could not refresh the Plannr login: the token endpoint answered %d %s%s; try again in a minute",
		status, http.StatusText(status), prefixed(said))
}

func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// describeOAuthError quotes an OAuth2 error answer: its code, description
// and Passport's hint, cleaned and bounded. The answer was scrubbed of
// secrets as it was read (see NewTokenHTTPClient).
func describeOAuthError(re *oauth2.RetrieveError) string {
	var hint struct {
		Hint string `json:"hint"`
	}
	_ = json.Unmarshal(re.Body, &hint)
	var parts []string
	for _, p := range []string{re.ErrorCode, re.ErrorDescription, hint.Hint} {
		if p = strings.TrimRight(untrusted.Excerpt(p, 160), "."); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "; ")
}
