package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// errReported marks a failure whose explanation has already been printed.
var errReported = errors.New("reported")

// cmdLogin logs in to Plannr with OAuth2 in a browser and stores the login
// for every plannr-mcp process of this user.
func cmdLogin(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if err := refuseSecretFlag(args); err != nil {
		return badUsage(err)
	}
	fs, finish := newFlagSet("plannr-mcp login", stderr, getenv)
	clientID := fs.String("client-id", getenv(envClientID), "OAuth2 client id Plannr issued (env "+envClientID+")")
	secretFile := fs.String("client-secret-file", getenv(envClientSecretFile),
		"file holding the OAuth2 client secret (env "+envClientSecretFile+"; or set "+envClientSecret+"); the secret itself is never a flag, which other users could read in ps")
	redirectURL := fs.String("redirect-url", envOr(getenv, envRedirectURL, auth.DefaultRedirectURL),
		"loopback redirect URL registered with Plannr for the client (env "+envRedirectURL+")")
	noBrowser := fs.Bool("no-browser", false, "only print the login URL; do not open a browser")
	wait := fs.Duration("login-timeout", auth.DefaultLoginTimeout, "how long to wait for the login to be completed in the browser")
	cfg, err := parseFlags(fs, args, finish)
	if err != nil {
		return err
	}
	switch {
	case cfg.sandbox:
		return badUsage(errors.New("the built-in sandbox needs no login: run plannr-mcp --sandbox (or plannr-mcp call TOOL --sandbox) directly. To try the OAuth2 login itself, serve the sandbox on its own with plannr-mcp sandbox-api and log in to it: see plannr-mcp sandbox-api --help"))
	case *wait <= 0:
		return badUsage(fmt.Errorf("--login-timeout %s: use a positive duration such as 5m", *wait))
	case strings.TrimSpace(*clientID) == "":
		return fmt.Errorf("no OAuth2 client id: set %s (or --client-id) to the client id Plannr issued you. Plannr issues a client id and secret on request (integrations@plannrcrm.com), for the redirect URL %s; with a Personal Access Token instead, set %s and skip the login",
			envClientID, *redirectURL, envToken)
	}
	secret, err := clientSecret(*secretFile, getenv)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.logLevel)
	store, err := cfg.loginStore(logger)
	if err != nil {
		return err
	}
	secrets := untrusted.NewSecrets()
	secrets.Set("client secret", secret)
	opts := auth.LoginOptions{
		BaseURL:      cfg.baseURL,
		ClientID:     strings.TrimSpace(*clientID),
		ClientSecret: secret,
		RedirectURL:  *redirectURL,
		Timeout:      *wait,
		Out:          stdout,
		HTTPClient:   auth.NewTokenHTTPClient(cfg.timeout, secrets),
		Logger:       logger,
		Secrets:      secrets,
	}
	if !*noBrowser {
		opts.OpenBrowser = auth.BrowserOpener(getenv)
	}
	rec, err := auth.Login(ctx, store, opts)
	if err != nil {
		return err
	}
	printLogin(stdout, rec, store, cfg)
	if from := patInUse(cfg, getenv); from != "" {
		fmt.Fprintf(stdout, "\nNote: %s is set here, and a Personal Access Token takes precedence: a server that sees it uses the token, not this login.\n", from)
	}
	return nil
}

// refuseSecretFlag explains why the secret cannot be given as a flag.
func refuseSecretFlag(args []string) error {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if isFlag(a) && name == "client-secret" {
			return fmt.Errorf("--client-secret is not accepted: a secret on the command line can be read by other users (in ps) and lands in shell history. Set %s, or put the secret in a file readable only by you and pass --client-secret-file (or set %s)",
				envClientSecret, envClientSecretFile)
		}
	}
	return nil
}

// clientSecret reads the OAuth2 client secret: from the file if one is
// named, else from PLANNR_CLIENT_SECRET.
func clientSecret(file string, getenv func(string) string) (string, error) {
	if file != "" {
		return auth.ReadSecretFile(file, "client secret")
	}
	if s := strings.TrimSpace(getenv(envClientSecret)); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("no OAuth2 client secret: set %s, or %s (or --client-secret-file) to a file holding only the secret Plannr issued with the client id",
		envClientSecret, envClientSecretFile)
}

// patInUse names the Personal Access Token setting that would take
// precedence over the stored login, if any.
func patInUse(cfg *config, getenv func(string) string) string {
	switch {
	case getenv(envToken) != "":
		return envToken
	case cfg.tokenFile != "":
		return "--token-file (or " + envTokenFile + ")"
	}
	return ""
}

// printLogin tells the person who is logged in, and what happens next.
func printLogin(w io.Writer, rec *auth.Record, store *auth.Store, cfg *config) {
	fmt.Fprintf(w, "\nLogged in to Plannr (%s) as %s.\n", rec.BaseURL, untrusted.Text(rec.Who()))
	printAccounts(w, rec.User)
	if rec.User != nil && len(rec.User.Accounts) > 1 && cfg.accountUUID == "" {
		fmt.Fprintf(w, "To act for one account in particular, set %s to its uuid.\n", envAccountUUID)
	}
	fmt.Fprintf(w, "\nThe login is saved in %s, readable only by you. Every plannr-mcp server of yours on this machine uses it, running ones included, and refreshes it as needed.\n", store.Path())
	fmt.Fprintf(w, "Run plannr-mcp login again if it stops working: the refresh token lasts about six months (until about %s) and each refresh renews it.\n",
		rec.RefreshExpiry.Local().Format("2 January 2006"))
}

// printAccounts lists the accounts a login can act for.
func printAccounts(w io.Writer, u *auth.User) {
	if u == nil || len(u.Accounts) == 0 {
		return
	}
	fmt.Fprintln(w, "Accounts:")
	for _, a := range u.Accounts {
		mark := ""
		if a.UUID == u.PreferredAccountUUID {
			mark = "  (preferred)"
		}
		fmt.Fprintf(w, "  %s (%s)  %s%s\n", untrusted.Text(a.Name), untrusted.Text(a.Type), untrusted.Text(a.UUID), mark)
	}
}

// cmdLogout removes the stored login.
func cmdLogout(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, finish := newFlagSet("plannr-mcp logout", stderr, getenv)
	cfg, err := parseFlags(fs, args, finish)
	if err != nil {
		return err
	}
	store, err := cfg.loginStore(newLogger(stderr, cfg.logLevel))
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, auth.DefaultLockTimeout)
	defer cancel()
	unlock, err := store.Lock(lctx)
	if err != nil {
		return fmt.Errorf("logging out: %w", err)
	}
	removed, err := store.Remove()
	unlock()
	if err != nil {
		return err
	}
	if !removed {
		fmt.Fprintf(stdout, "Not logged in: no login is stored in %s.\n", store.Dir())
	} else {
		fmt.Fprintf(stdout, "Logged out: removed the stored Plannr login %s.\nRunning plannr-mcp servers stop using it from their next call. The tokens are not revoked at Plannr; they stop working when they expire.\n", store.Path())
	}
	if from := patInUse(cfg, getenv); from != "" {
		fmt.Fprintf(stdout, "Note: %s is set here, so servers that see it still have a Personal Access Token.\n", from)
	}
	return nil
}

// cmdAuth runs the auth subcommands.
func cmdAuth(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "status" {
		return cmdAuthStatus(ctx, args[1:], stdout, stderr, getenv)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stdout, "usage: plannr-mcp auth status [--offline] [flags]")
		return nil
	}
	fmt.Fprintln(stderr, "usage: plannr-mcp auth status [--offline] [flags]")
	return errUsage
}

// cmdAuthStatus says which credential is in use, whose it is and when it
// expires, and checks it with Plannr unless --offline. It never prints a token.
func cmdAuthStatus(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, finish := newFlagSet("plannr-mcp auth status", stderr, getenv)
	offline := fs.Bool("offline", false, "only read the local configuration; do not ask Plannr")
	cfg, err := parseFlags(fs, args, finish)
	if err != nil {
		return err
	}
	if cfg.sandbox {
		fmt.Fprintln(stdout, "Credential in use: sandbox (a built-in fake Plannr with sample data; no real account)")
		return nil
	}
	// Warnings about the store (such as loose permissions) are shown;
	// the server's own start-up messages are not.
	logger := newLogger(stderr, max(cfg.logLevel, slog.LevelWarn))
	if store, err := cfg.loginStore(logger); err == nil {
		_, _ = store.Load()
	}
	secrets := untrusted.NewSecrets()
	cred, err := selectCredential(cfg, getenv, newLogger(stderr, slog.LevelError), secrets)
	if err != nil {
		return err
	}

	switch cred.kind {
	case credNone:
		fmt.Fprintln(stdout, "Credential in use: none")
		if cred.store != nil && cred.store.Exists() {
			// A login file that cannot be used: say why.
			if _, err := cred.store.Load(); err != nil {
				fmt.Fprintf(stdout, "The stored login cannot be used: %v\n", err)
			}
		}
		fmt.Fprintln(stdout, cred.help)
		return errReported
	case credPAT:
		fmt.Fprintf(stdout, "Credential in use: Personal Access Token from %s\n", cred.from)
	case credLogin:
		fmt.Fprintf(stdout, "Credential in use: OAuth2 login stored in %s\n", cred.from)
	}
	fmt.Fprintf(stdout, "Plannr: %s\n", cfg.baseURL)

	var checkErr error
	var user *auth.User
	if !*offline {
		user, checkErr = checkCredential(ctx, cfg, cred, secrets)
	}

	switch cred.kind {
	case credPAT:
		if user != nil {
			fmt.Fprintf(stdout, "Logged in as: %s\n", untrusted.Text(orUnknown(user.Email)))
			printAccounts(stdout, user)
		}
		fmt.Fprintln(stdout, "Expiry: Personal Access Tokens last a year from when Plannr issued them; Plannr does not tell plannr-mcp when this one expires.")
		if cred.store != nil && cred.store.Exists() {
			fmt.Fprintf(stdout, "A stored OAuth2 login (%s) is not used while a Personal Access Token is set.\n", cred.store.Path())
		}
	case credLogin:
		if err := printStoredLogin(stdout, cred.store, cfg.baseURL, time.Now()); err != nil {
			fmt.Fprintf(stdout, "The stored login cannot be used: %v\n", err)
			if *offline {
				return errReported
			}
		}
	}

	if *offline {
		fmt.Fprintln(stdout, "Not checked with Plannr (--offline).")
		return nil
	}
	if checkErr != nil {
		fmt.Fprintf(stdout, "Plannr accepts the credential: no. %s\n%s\n", describeCheckError(checkErr), cred.help)
		return errReported
	}
	fmt.Fprintln(stdout, "Plannr accepts the credential: yes (checked with GET /api/v1/logins).")
	return nil
}

// checkCredential asks Plannr who the credential belongs to. For a stored
// login this refreshes the token if it is due, like any call.
func checkCredential(ctx context.Context, cfg *config, cred *credential, secrets *untrusted.Secrets) (*auth.User, error) {
	client, err := plannr.NewClient(cred.source,
		plannr.WithBaseURL(cfg.baseURL),
		plannr.WithUserAgent("plannr-mcp/"+version()),
		plannr.WithTimeout(cfg.timeout),
		plannr.WithSecrets(secrets),
	)
	if err != nil {
		return nil, err
	}
	logins, err := client.ListLogins(ctx)
	if err != nil {
		return nil, err
	}
	return auth.UserFromLogins(logins), nil
}

// printStoredLogin shows the stored login: whose it is and when its tokens
// expire, never the tokens.
func printStoredLogin(w io.Writer, store *auth.Store, baseURL string, now time.Time) error {
	rec, err := store.Load()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Logged in as: %s (since %s)\n", untrusted.Text(rec.Who()), rec.LoggedInAt.Local().Format(time.DateTime))
	printAccounts(w, rec.User)
	if strings.TrimRight(rec.BaseURL, "/") != strings.TrimRight(baseURL, "/") {
		fmt.Fprintf(w, "The login was made for %s, not %s: run plannr-mcp login with the base URL the servers use.\n", rec.BaseURL, baseURL)
	}
	access := "expires " + rec.Expiry.Local().Format(time.DateTime) + " (" + relative(rec.Expiry, now) + ")"
	if !rec.Expiry.After(now) {
		access += "; it is refreshed on the next call"
	}
	fmt.Fprintf(w, "Access token: %s\n", access)
	fmt.Fprintf(w, "Refresh token: expires about %s (%s); an estimate, as Plannr's refresh tokens last about six months and each refresh renews it\n",
		rec.RefreshExpiry.Local().Format("2 January 2006"), relative(rec.RefreshExpiry, now))
	return nil
}

// relative says how far t is from now, in words.
func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("in %d days", int(d.Hours()/24))
	case d > 0:
		return "in " + d.String()
	case d <= -48*time.Hour:
		return fmt.Sprintf("%d days ago", int(-d.Hours()/24))
	default:
		return (-d).String() + " ago"
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "(Plannr did not say)"
	}
	return s
}

// describeCheckError explains a failed check in words for a person.
func describeCheckError(err error) string {
	var ce *plannr.CredentialError
	var apiErr *plannr.ErrorResponse
	switch {
	case errors.As(err, &ce):
		return "No usable token: " + untrusted.Text(ce.Err.Error()) + "."
	case errors.As(err, &apiErr) && apiErr.StatusCode == 401:
		return "Plannr answered 401 Unauthenticated: the token is wrong, expired or revoked."
	default:
		return untrusted.Text(err.Error()) + "."
	}
}
