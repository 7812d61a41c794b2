package cli

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

// cmdAuth runs the auth subcommands.
func (e *runEnv) auth(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "status" {
		return e.authStatus(ctx, args[1:])
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(e.Out, "usage: plannr-mcp auth status [--offline] [flags]")
		return nil
	}
	fmt.Fprintln(e.Err, "usage: plannr-mcp auth status [--offline] [flags]")
	return errUsage
}

// cmdAuthStatus says which credential is in use, whose it is and when it
// expires, and checks it with Plannr unless --offline. It never prints a token.
func (e *runEnv) authStatus(ctx context.Context, args []string) error {
	cfg, err := e.parseFlagsOnly("auth status", args, []group{groupPlannr, groupCredential, groupStore, groupAuthStatus, groupRemote, groupStoreDB}, groupTransport)
	if err != nil {
		return err
	}
	if cfg.remote.oauth() {
		return e.remoteStatus(ctx, cfg)
	}
	stdout := e.Out
	offline := &cfg.offline
	if cfg.sandbox {
		fmt.Fprintln(stdout, "Credential in use: sandbox (a built-in fake Plannr with sample data; no real account)")
		return nil
	}
	// Warnings about the store (such as loose permissions) are shown;
	// the server's own start-up messages are not.
	logger := e.newLogger(max(cfg.logLevel, slog.LevelWarn))
	if store, err := cfg.loginStore(logger); err == nil {
		_, _ = store.Load()
	}
	secrets := untrusted.NewSecrets()
	cred, err := selectCredential(cfg, e.newLogger(slog.LevelError), secrets, nil)
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
		user, checkErr = checkCredential(ctx, cfg, cred, secrets, e.version)
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
func checkCredential(ctx context.Context, cfg *config, cred *credential, secrets *untrusted.Secrets, version string) (*auth.User, error) {
	client, err := plannr.NewClient(cred.source,
		plannr.WithBaseURL(cfg.baseURL),
		plannr.WithUserAgent("plannr-mcp/"+version),
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
