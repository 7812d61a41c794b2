package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// cmdLogin logs in to Plannr with OAuth2 in a browser and stores the login
// for every plannr-mcp process of this user.
func (e *runEnv) login(ctx context.Context, args []string) error {
	if err := refuseSecretFlag(args); err != nil {
		return badUsage(err)
	}
	// The credential's settings are taken from the environment only, to
	// say when a Personal Access Token would win over the new login.
	cfg, err := e.parseFlagsOnly("login", args, []group{groupPlannr, groupStore, groupLogin}, groupCredential)
	if err != nil {
		return err
	}
	switch {
	case cfg.sandbox:
		return badUsage(errors.New("the built-in sandbox needs no login: run plannr-mcp --sandbox (or plannr-mcp call TOOL --sandbox) directly. To try the OAuth2 login itself, serve the sandbox on its own with plannr-mcp sandbox-api and log in to it: see plannr-mcp sandbox-api --help"))
	case cfg.clientID == "":
		return fmt.Errorf("no OAuth2 client id: set PLANNR_CLIENT_ID (or --client-id) to the client id Plannr issued you. Plannr issues a client id and secret on request (integrations@plannrcrm.com), for the redirect URL %s; with a Personal Access Token instead, set PLANNR_TOKEN and skip the login",
			cfg.redirectURL)
	}
	secret, err := clientSecret(cfg)
	if err != nil {
		return err
	}
	stdout := e.Out
	logger := e.newLogger(cfg.logLevel)
	store, err := cfg.loginStore(logger)
	if err != nil {
		return err
	}
	secrets := untrusted.NewSecrets()
	secrets.Set("client secret", secret)
	opts := auth.LoginOptions{
		BaseURL:      cfg.baseURL,
		ClientID:     cfg.clientID,
		ClientSecret: secret,
		RedirectURL:  cfg.redirectURL,
		Timeout:      cfg.loginTimeout,
		Out:          stdout,
		HTTPClient:   auth.NewTokenHTTPClient(cfg.timeout, secrets),
		Logger:       logger,
		Secrets:      secrets,
	}
	if !cfg.noBrowser {
		opts.OpenBrowser = auth.BrowserOpener(cfg.graphical)
	}
	rec, err := auth.Login(ctx, store, opts)
	if err != nil {
		return err
	}
	printLogin(stdout, rec, store, cfg)
	if from := cfg.patInUse(); from != "" {
		fmt.Fprintf(stdout, "\nNote: %s is set here, and a Personal Access Token takes precedence: a server that sees it uses the token, not this login.\n", from)
	}
	return nil
}

// refuseSecretFlag explains why the secret cannot be given as a flag.
func refuseSecretFlag(args []string) error {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if isFlag(a) && name == "client-secret" {
			return errors.New("--client-secret is not accepted: a secret on the command line can be read by other users (in ps) and lands in shell history. Set PLANNR_CLIENT_SECRET, or put the secret in a file readable only by you and pass --client-secret-file (or set PLANNR_CLIENT_SECRET_FILE)")
		}
	}
	return nil
}

// clientSecret reads the OAuth2 client secret: from the file if one is
// named, else from PLANNR_CLIENT_SECRET.
func clientSecret(cfg *config) (string, error) {
	if cfg.clientSecretFile != "" {
		return auth.ReadSecretFile(cfg.clientSecretFile, "client secret")
	}
	if cfg.clientSecret != "" {
		return cfg.clientSecret, nil
	}
	return "", errors.New("no OAuth2 client secret: set PLANNR_CLIENT_SECRET, or PLANNR_CLIENT_SECRET_FILE (or --client-secret-file) to a file holding only the secret Plannr issued with the client id")
}

// printLogin tells the person who is logged in, and what happens next.
func printLogin(w io.Writer, rec *auth.Record, store *auth.Store, cfg *config) {
	fmt.Fprintf(w, "\nLogged in to Plannr (%s) as %s.\n", rec.BaseURL, untrusted.Text(rec.Who()))
	printAccounts(w, rec.User)
	if rec.User != nil && len(rec.User.Accounts) > 1 && cfg.accountUUID == "" {
		fmt.Fprintln(w, "To act for one account in particular, set PLANNR_ACCOUNT_UUID to its uuid.")
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
func (e *runEnv) logout(ctx context.Context, args []string) error {
	cfg, err := e.parseFlagsOnly("logout", args, []group{groupStore}, groupPlannr, groupCredential)
	if err != nil {
		return err
	}
	stdout := e.Out
	store, err := cfg.loginStore(e.newLogger(cfg.logLevel))
	if err != nil {
		return err
	}
	removed, err := store.RemoveLocked(ctx)
	if err != nil {
		return err
	}
	if !removed {
		fmt.Fprintf(stdout, "Not logged in: no login is stored in %s.\n", store.Dir())
	} else {
		fmt.Fprintf(stdout, "Logged out: removed the stored Plannr login %s.\nRunning plannr-mcp servers stop using it from their next call. The tokens are not revoked at Plannr; they stop working when they expire.\n", store.Path())
	}
	if from := cfg.patInUse(); from != "" {
		fmt.Fprintf(stdout, "Note: %s is set here, so servers that see it still have a Personal Access Token.\n", from)
	}
	return nil
}
