package cli

import (
	"errors"
	"log/slog"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// Advice appended to credential errors, by the kind of credential in use.
const (
	// patHelp is for a server configured with a Personal Access Token.
	patHelp = "Set PLANNR_TOKEN to a Plannr Personal Access Token (or PLANNR_TOKEN_FILE to a file holding one) in this server's entry in the MCP client's configuration, then restart the server."
	// loginHelp is for a server using the stored OAuth2 login.
	loginHelp = "Once you have run `plannr-mcp login` in a terminal, this server uses the new login without a restart."
	// credentialHelp is for a server with no credential yet.
	credentialHelp = "To give this server a Plannr credential, either run `plannr-mcp login` in a terminal to log in with OAuth2 (this server picks up the login without a restart), or set PLANNR_TOKEN to a Plannr Personal Access Token (or PLANNR_TOKEN_FILE to a file holding one) in this server's entry in the MCP client's configuration and restart the server."
)

// Kinds of credential, as auth status names them.
const (
	credSandbox = "sandbox"
	credPAT     = "Personal Access Token"
	credLogin   = "OAuth2 login"
	credNone    = "none"
)

// credential is the Plannr credential a command uses.
type credential struct {
	kind string
	// from says where it comes from: a variable, a file or the login store.
	from   string
	source oauth2.TokenSource
	// help tells a person how to fix a credential error.
	help string
	// store is the OAuth2 login store, when one could be located.
	store *auth.Store
}

// selectCredential picks the credential by precedence: a Personal Access
// Token (PLANNR_TOKEN, then PLANNR_TOKEN_FILE), then the stored OAuth2
// login. With neither, tools explain how to configure one, and a login made
// later is picked up without a restart. Nothing here talks to Plannr: a
// refresh waits for the first call. secrets learns the credential's secrets;
// onRefresh, if not nil, learns the outcome of each refresh of the login.
func selectCredential(cfg *config, logger *slog.Logger, secrets *untrusted.Secrets, onRefresh func(error)) (*credential, error) {
	store, storeErr := cfg.loginStore(logger)
	pat := func(token, from string) *credential {
		if store != nil && store.Exists() {
			logger.Info("a stored OAuth2 login exists but is not used: a Personal Access Token takes precedence", "token_from", from)
		}
		secrets.Set("personal access token", token)
		return &credential{kind: credPAT, from: from, source: auth.PersonalAccessToken(token), help: patHelp, store: store}
	}
	switch {
	case cfg.token != "":
		return pat(cfg.token, "PLANNR_TOKEN"), nil
	case cfg.tokenFile != "":
		token, err := auth.ReadTokenFile(cfg.tokenFile)
		if err != nil {
			return nil, err
		}
		return pat(token, cfg.tokenFile), nil
	case storeErr != nil:
		logger.Warn("no Plannr credential configured; tools will answer with setup instructions", "help", credentialHelp, "login_store", storeErr)
		return &credential{kind: credNone, source: auth.Unconfigured("no Personal Access Token is set, and the login store cannot be located: " + storeErr.Error()), help: credentialHelp}, nil
	}
	source := auth.NewSource(store, auth.SourceOptions{BaseURL: cfg.baseURL, Logger: logger, RefreshTimeout: cfg.timeout, Secrets: secrets, OnRefresh: onRefresh})
	cred := &credential{kind: credLogin, from: store.Path(), source: source, help: loginHelp, store: store}
	rec, err := store.Load()
	switch {
	case err == nil:
		logger.Info("using the stored Plannr login", "login", rec, "store", store.Path())
	case errors.Is(err, auth.ErrNotLoggedIn):
		logger.Warn("no Plannr credential configured; tools will answer with setup instructions", "help", credentialHelp)
		cred.kind, cred.from, cred.help = credNone, "", credentialHelp
	default:
		logger.Warn("the stored Plannr login cannot be used; tools will say why", "error", err)
	}
	return cred, nil
}
