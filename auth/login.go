package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// DefaultRedirectURL is the loopback address the login listens on unless
// configured otherwise. It must be registered with Plannr for the client.
const DefaultRedirectURL = "http://127.0.0.1:8765/callback"

// DefaultLoginTimeout is how long Login waits for the person to finish in
// the browser.
const DefaultLoginTimeout = 5 * time.Minute

// ErrLoginTimedOut reports that nobody finished the login in the browser in time.
var ErrLoginTimedOut = errors.New("timed out waiting for the login to be completed in the browser")

// ErrStateMismatch reports a callback whose state is not the one this login
// sent: an old browser tab, or a forged request.
var ErrStateMismatch = errors.New("the login callback's state does not match this login")

// LoginOptions configures Login.
type LoginOptions struct {
	// BaseURL is the Plannr to log in to; the authorize and token
	// endpoints are BaseURL/oauth/authorize and BaseURL/oauth/token.
	BaseURL string
	// ClientID and ClientSecret are the OAuth2 client Plannr issued.
	ClientID string
	// ClientSecret is the client's secret. It is stored with the login,
	// because refreshing needs it.
	ClientSecret string
	// RedirectURL is the loopback URL registered with Plannr; Login
	// listens on its host and port. Empty means DefaultRedirectURL.
	RedirectURL string
	// Timeout bounds the wait for the browser; zero means DefaultLoginTimeout.
	Timeout time.Duration
	// OpenBrowser opens the authorization URL; nil opens nothing. The URL
	// is printed to Out either way.
	OpenBrowser func(ctx context.Context, url string) error
	// Out receives the messages for the person: the URL and what happens.
	// nil discards them.
	Out io.Writer
	// HTTPClient sends the token request and reads who logged in; nil
	// means one that follows no redirects.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives details for debugging, never a token; nil discards.
	Logger *slog.Logger
	// Secrets are the secrets the process holds; the client secret is
	// added. Everything Plannr sends back is scrubbed of them.
	Secrets *untrusted.Secrets
}

// Login runs OAuth2's authorization code grant with state and PKCE (S256):
// it listens on the redirect URL, has the person approve in the browser,
// checks the callback's state, exchanges the code, reads who logged in
// from /api/v1/logins and saves the login in store, replacing any other.
// It gives up when ctx ends or after opts.Timeout.
func Login(ctx context.Context, store *Store, opts LoginOptions) (*Record, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultLoginTimeout
	}
	if opts.RedirectURL == "" {
		opts.RedirectURL = DefaultRedirectURL
	}
	opts.Secrets.Set("login client", opts.ClientSecret)
	if opts.HTTPClient == nil {
		opts.HTTPClient = NewTokenHTTPClient(DefaultRefreshTimeout, opts.Secrets)
	}
	if strings.TrimSpace(opts.ClientID) == "" {
		return nil, errors.New("no OAuth2 client id: set PLANNR_CLIENT_ID to the client id Plannr issued")
	}
	redirect, err := ParseRedirectURL(opts.RedirectURL)
	if err != nil {
		return nil, err
	}
	listeners, err := listenLoopback(redirect)
	if err != nil {
		return nil, err
	}

	state := oauth2.GenerateVerifier() // 32 random bytes, base64url
	verifier := oauth2.GenerateVerifier()
	// Plannr compares redirect URLs exactly: send the configured one as is.
	conf := oauthConfig(opts.BaseURL, opts.ClientID, opts.ClientSecret, opts.RedirectURL)
	// S256ChallengeOption sends code_challenge_method=S256 explicitly;
	// Passport assumes "plain" without it.
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	callbackPath := redirect.Path
	if callbackPath == "" {
		callbackPath = "/"
	}
	cb := newCallback(callbackPath, state, opts.Secrets)
	srv := &http.Server{Handler: cb, ReadHeaderTimeout: 10 * time.Second}
	for _, ln := range listeners {
		go func() { _ = srv.Serve(ln) }()
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	// Runs before the shutdown: a callback that arrived too late is not
	// left waiting for an outcome, which would hold the shutdown up.
	defer cb.finish(http.StatusGone, "This login has already ended. Return to the terminal.")

	waitCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if opts.OpenBrowser != nil {
		fmt.Fprintf(opts.Out, "Opening your browser to log in to Plannr. If it does not open, open this URL yourself:\n\n%s\n\n", authURL)
		if err := opts.OpenBrowser(waitCtx, authURL); err != nil {
			fmt.Fprintf(opts.Out, "(Could not open a browser: %v.)\n", err)
		}
	} else {
		fmt.Fprintf(opts.Out, "Open this URL in a browser to log in to Plannr:\n\n%s\n\n", authURL)
	}
	fmt.Fprintf(opts.Out, "Waiting up to %s for Plannr to send the browser back to %s ...\n", opts.Timeout, redirect)

	var code string
	select {
	case res := <-cb.results:
		if res.err != nil {
			return nil, res.err
		}
		code = res.code
	case <-waitCtx.Done():
		if ctx.Err() != nil {
			return nil, fmt.Errorf("login cancelled before it was completed in the browser; nothing was stored: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w: nobody finished the login within %s, so nothing was stored. Run plannr-mcp login again; with --no-browser it only prints the URL, to open by hand",
			ErrLoginTimedOut, opts.Timeout)
	}

	rec, err := finishLogin(ctx, store, conf, code, verifier, opts)
	if err != nil {
		cb.finish(http.StatusBadGateway, "The login failed: "+firstSentence(err)+" See the terminal for details.")
		return nil, err
	}
	cb.finish(http.StatusOK, "You are logged in to Plannr as "+rec.Who()+". You can close this tab and return to the terminal.")
	return rec, nil
}

// finishLogin exchanges the code, learns who logged in and saves the login.
func finishLogin(ctx context.Context, store *Store, conf *oauth2.Config, code, verifier string, opts LoginOptions) (*Record, error) {
	rec, err := exchangeCode(ctx, conf, code, verifier, opts.BaseURL, opts.HTTPClient, opts.Now)
	if err != nil {
		return nil, exchangeError(err)
	}
	if rec.RefreshToken == "" {
		opts.Logger.Warn("Plannr issued no refresh token; the login ends when the access token expires")
	}
	user, err := whoAmI(ctx, opts.BaseURL, opts.Secrets, rec.Token())
	if err != nil {
		// The login works; only the description of it is missing.
		fmt.Fprintf(opts.Out, "Logged in, but could not read who you are from Plannr: %v\n", err)
	}
	rec.User = user

	if err := store.SaveLocked(ctx, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// exchangeCode trades an authorization code for a login record.
func exchangeCode(ctx context.Context, conf *oauth2.Config, code, verifier, baseURL string, client *http.Client, now func() time.Time) (*Record, error) {
	xctx, cancel := context.WithTimeout(ctx, DefaultRefreshTimeout)
	defer cancel()
	xctx = context.WithValue(xctx, oauth2.HTTPClient, client)
	tok, err := conf.Exchange(xctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, err
	}
	at := now()
	base := Record{
		Version:      recordVersion,
		BaseURL:      normalizeBaseURL(baseURL),
		ClientID:     conf.ClientID,
		ClientSecret: conf.ClientSecret,
		LoggedInAt:   at,
	}
	return base.withToken(tok, at), nil
}

// whoAmI reads the logged-in person's logins and accounts.
func whoAmI(ctx context.Context, baseURL string, secrets *untrusted.Secrets, tok *oauth2.Token) (*User, error) {
	client, err := plannr.NewClient(oauth2.StaticTokenSource(tok),
		plannr.WithBaseURL(baseURL), plannr.WithTimeout(DefaultRefreshTimeout), plannr.WithSecrets(secrets))
	if err != nil {
		return nil, err
	}
	logins, err := client.ListLogins(ctx)
	if err != nil {
		return nil, err
	}
	return UserFromLogins(logins), nil
}

// UserFromLogins summarizes /api/v1/logins: one person, several accounts,
// each once, in the order Plannr gave them.
func UserFromLogins(logins []plannr.Login) *User {
	u := &User{}
	seen := map[string]bool{}
	for _, l := range logins {
		if u.Email == "" {
			u.Email = l.Email
		}
		if u.PreferredAccountUUID == "" {
			u.PreferredAccountUUID = l.PreferredAccountUUID
		}
		if l.Account.UUID != "" && !seen[l.Account.UUID] {
			seen[l.Account.UUID] = true
			u.Accounts = append(u.Accounts, Account{UUID: l.Account.UUID, Name: l.Account.Name, Type: l.Account.Type})
		}
	}
	return u
}

// exchangeError explains a failed code exchange without quoting a body.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("exchanging the authorization code with Plannr failed: %w; check the network and run plannr-mcp login again", err)
	}
	said := describeOAuthError(re)
	if re.ErrorCode == "invalid_client" {
		//lint:ignore ST1005 Plannr is a name, and starts the sentence a person reads.
		return fmt.Errorf("Plannr refused the client id or secret (%s): check PLANNR_CLIENT_ID and PLANNR_CLIENT_SECRET (or PLANNR_CLIENT_SECRET_FILE), then run plannr-mcp login again", said)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	if said == "" {
		said = fmt.Sprintf("%d %s", status, http.StatusText(status))
	}
	//lint:ignore ST1005 Plannr is a name, and starts the sentence a person reads.
	return fmt.Errorf("Plannr refused the authorization code (%s); run plannr-mcp login again", said)
}

// ParseRedirectURL checks that u is a loopback http URL with a port, which
// is what the login can listen on.
func ParseRedirectURL(u string) (*url.URL, error) {
	p, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("redirect URL %q is not a URL: %w", u, err)
	}
	bad := func(why string) error {
		return fmt.Errorf("redirect URL %q %s; use a loopback URL registered with Plannr, such as %s", u, why, DefaultRedirectURL)
	}
	switch {
	case p.Scheme != "http":
		return nil, bad("must start with http:// (plannr-mcp receives the callback itself, on this machine)")
	case p.Port() == "" || p.Port() == "0":
		return nil, bad("needs an explicit port")
	case !isLoopback(p.Hostname()):
		return nil, bad("must point at this machine (127.0.0.1, [::1] or localhost)")
	case p.Fragment != "" || p.User != nil:
		return nil, bad("must not have a fragment or user info")
	}
	return p, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenLoopback listens where the redirect URL points. localhost may
// resolve to IPv4 or IPv6 in the browser, so both are tried.
func listenLoopback(redirect *url.URL) ([]net.Listener, error) {
	hosts := []string{redirect.Hostname()}
	if redirect.Hostname() == "localhost" {
		hosts = []string{"127.0.0.1", "::1"}
	}
	var listeners []net.Listener
	var firstErr error
	for _, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, redirect.Port()))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		listeners = append(listeners, ln)
	}
	if len(listeners) == 0 {
		return nil, fmt.Errorf("cannot listen on %s for the login callback: %w; another plannr-mcp login may be running (finish or cancel it), or another program uses the port (register another redirect URL with Plannr and set PLANNR_REDIRECT_URL)",
			redirect.Host, firstErr)
	}
	return listeners, nil
}

// callbackResult is what the browser brought back.
type callbackResult struct {
	code string
	err  error
}

// callback is the one-shot handler for the redirect URL. The first request
// to its path settles the login; later ones are told it is over.
type callback struct {
	path    string
	state   string
	secrets *untrusted.Secrets
	results chan callbackResult
	claim   sync.Once
	outcome chan page
}

// page is what the browser is shown once the login has ended.
type page struct {
	status int
	text   string
}

func newCallback(path, state string, secrets *untrusted.Secrets) *callback {
	return &callback{
		path:    path,
		state:   state,
		secrets: secrets,
		results: make(chan callbackResult, 1),
		outcome: make(chan page, 1),
	}
}

// finish tells the waiting browser how the login ended.
func (c *callback) finish(status int, text string) {
	select {
	case c.outcome <- page{status, text}:
	default:
	}
}

func (c *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != c.path {
		http.NotFound(w, r)
		return
	}
	first := false
	c.claim.Do(func() { first = true })
	if !first {
		writePage(w, http.StatusGone, "This login has already ended. Return to the terminal.")
		return
	}
	res := c.check(r.URL.Query())
	c.results <- res
	if res.err != nil {
		writePage(w, http.StatusBadRequest, "The login failed: "+firstSentence(res.err)+" Nothing was stored; return to the terminal.")
		return
	}
	// Keep the browser waiting until the code is exchanged, so the page
	// tells the truth.
	select {
	case p := <-c.outcome:
		writePage(w, p.status, p.text)
	case <-r.Context().Done():
	}
}

// check validates the callback's query: the state first, so that nothing a
// forged request carries is believed.
func (c *callback) check(q url.Values) callbackResult {
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(c.state)) != 1 {
		return callbackResult{err: fmt.Errorf("%w (an old browser tab, or a request that did not come from this login); nothing was stored. Run plannr-mcp login again", ErrStateMismatch)}
	}
	if e := q.Get("error"); e != "" {
		// The browser brings back what Plannr put in the redirect.
		desc := untrusted.Excerpt(c.secrets.RedactString(q.Get("error_description")), 160)
		if desc != "" {
			desc = ": " + desc
		}
		//lint:ignore ST1005 Plannr is a name, and starts the sentence a person reads.
		return callbackResult{err: fmt.Errorf("Plannr did not authorize plannr-mcp (%s%s); nothing was stored. Run plannr-mcp login again to retry", untrusted.Excerpt(c.secrets.RedactString(e), 60), desc)}
	}
	code := q.Get("code")
	if code == "" {
		return callbackResult{err: errors.New("the login callback carried no authorization code; nothing was stored. Run plannr-mcp login again")}
	}
	return callbackResult{code: code}
}

// writePage answers the browser with a small self-contained page.
func writePage(w http.ResponseWriter, status int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>plannr-mcp login</title></head><body><h1>plannr-mcp</h1><p>%s</p></body></html>\n", html.EscapeString(text))
}

// firstSentence shortens an error for the browser page.
func firstSentence(err error) string {
	s := err.Error()
	if i := strings.Index(s, "; "); i > 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, ".") + "."
}
