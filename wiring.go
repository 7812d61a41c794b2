package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// Advice appended to credential errors, by the kind of credential in use.
const (
	// patHelp is for a server configured with a Personal Access Token.
	patHelp = "Set " + envToken + " to a Plannr Personal Access Token (or " + envTokenFile +
		" to a file holding one) in this server's entry in the MCP client's configuration, then restart the server."
	// loginHelp is for a server using the stored OAuth2 login.
	loginHelp = "Once you have run `plannr-mcp login` in a terminal, this server uses the new login without a restart."
	// credentialHelp is for a server with no credential yet.
	credentialHelp = "To give this server a Plannr credential, either run `plannr-mcp login` in a terminal to log in with OAuth2 (this server picks up the login without a restart), or set " +
		envToken + " to a Plannr Personal Access Token (or " + envTokenFile +
		" to a file holding one) in this server's entry in the MCP client's configuration and restart the server."
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
// refresh waits for the first call.
func selectCredential(cfg *config, getenv func(string) string, logger *slog.Logger, secrets *untrusted.Secrets) (*credential, error) {
	store, storeErr := cfg.loginStore(logger)
	pat := func(token, from string) *credential {
		if store != nil && store.Exists() {
			logger.Info("a stored OAuth2 login exists but is not used: a Personal Access Token takes precedence", "token_from", from)
		}
		secrets.Set("personal access token", token)
		return &credential{kind: credPAT, from: from, source: auth.PersonalAccessToken(token), help: patHelp, store: store}
	}
	switch {
	case getenv(envToken) != "":
		return pat(getenv(envToken), envToken), nil
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
	source := auth.NewSource(store, auth.SourceOptions{BaseURL: cfg.baseURL, Logger: logger, RefreshTimeout: cfg.timeout, Secrets: secrets})
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

const sandboxInstructions = "SANDBOX MODE: this server is connected to a built-in fake Plannr with sample data, not to a real Plannr account. Changes are not real and vanish when the server stops.\n\n" + tools.DefaultInstructions

// app is a wired server: the toolset, the MCP server and what to close.
type app struct {
	toolset *tools.Toolset
	mcp     *server.MCPServer
	api     *plannr.Client
	account string // the configured account uuid, if any
	logger  *slog.Logger
	// secrets are the secrets the process holds, which no text from
	// upstream may carry back out.
	secrets *untrusted.Secrets
	close   func()
}

// newApp wires credentials, the Plannr client and the tools from cfg.
func newApp(cfg *config, stderr io.Writer, getenv func(string) string) (*app, error) {
	logger := newLogger(stderr, cfg.logLevel)
	secrets := untrusted.NewSecrets()
	closeFn := func() {}
	baseURL := cfg.baseURL
	instructions := tools.DefaultInstructions

	var cred *credential
	if cfg.sandbox {
		url, stop, err := startSandbox()
		if err != nil {
			return nil, err
		}
		closeFn = stop
		baseURL = url
		cred = &credential{kind: credSandbox, source: auth.PersonalAccessToken(plannrtest.SandboxToken), help: patHelp}
		secrets.Set("sandbox token", plannrtest.SandboxToken)
		instructions = sandboxInstructions
		logger.Warn("SANDBOX MODE: serving sample data from a built-in fake Plannr, not a real account")
	} else {
		var err error
		if cred, err = selectCredential(cfg, getenv, logger, secrets); err != nil {
			return nil, err
		}
	}

	client, err := plannr.NewClient(cred.source,
		plannr.WithBaseURL(baseURL),
		plannr.WithAccountUUID(cfg.accountUUID),
		plannr.WithUserAgent("plannr-mcp/"+version()),
		plannr.WithTimeout(cfg.timeout),
		plannr.WithRetry(retryPolicy(cfg)),
		plannr.WithRateLimit(plannr.RateLimit{Requests: cfg.rateLimit, Per: time.Minute}),
		plannr.WithListCache(cfg.listCacheTTL),
		plannr.WithMaxResponseBytes(cfg.maxResponse),
		plannr.WithLogger(logger),
		plannr.WithSecrets(secrets),
	)
	if err != nil {
		closeFn()
		return nil, err
	}
	toolset := tools.NewToolset(client, tools.Options{
		CredentialHelp: cred.help,
		Logger:         logger,
		EnableDelete:   cfg.enableDelete,
		ReadOnly:       cfg.readOnly,
		Tools:          cfg.toolNames(),
		AccountUUID:    cfg.accountUUID,
		StateKey:       cfg.stateKey,
	})
	logToolSelection(logger, cfg, toolset)
	return &app{
		toolset: toolset,
		mcp:     toolset.NewServer(tools.ServerConfig{Version: version(), Instructions: instructions}),
		api:     client,
		account: cfg.accountUUID,
		logger:  logger,
		secrets: secrets,
		close:   closeFn,
	}, nil
}

// logToolSelection says which tools are served and warns when read-only
// mode dropped a tool that other flags asked for.
func logToolSelection(logger *slog.Logger, cfg *config, toolset *tools.Toolset) {
	var served []string
	for _, tool := range toolset.Tools() {
		served = append(served, tool.Definition.Name)
	}
	if cfg.readOnly {
		var dropped []string
		for _, name := range cfg.toolNames() {
			if !slices.Contains(served, name) {
				dropped = append(dropped, name)
			}
		}
		if cfg.enableDelete && !slices.Contains(dropped, tools.DeleteToolName) {
			dropped = append(dropped, tools.DeleteToolName)
		}
		if len(dropped) > 0 {
			logger.Warn("read-only mode: not serving tools that change data", "dropped", strings.Join(dropped, ","))
		}
	}
	if len(served) == 0 {
		logger.Warn("no tools are served: --read-only left none of the tools named by --tools")
	}
	logger.Info("tools served", "tools", strings.Join(served, ","), "read_only", cfg.readOnly)
}

// startSandbox serves the fake Plannr on a loopback port for this process.
func startSandbox() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	srv := &http.Server{Handler: plannrtest.New(sandboxOptions()...), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// sandboxOptions are the fake Plannr's settings wherever it is served: no
// rate limit, and the demo OAuth2 client, sign-in page and second user, so
// that a login can be tried too.
func sandboxOptions(redirects ...string) []plannrtest.Option {
	return []plannrtest.Option{
		plannrtest.WithRateLimit(0),
		plannrtest.WithOAuthClient(plannrtest.DemoClient(redirects...)),
		plannrtest.WithLoginPage(),
		plannrtest.WithUsers(plannrtest.SecondUser(time.Now())),
	}
}

// retryPolicy is the default policy with the configured number of retries
// and attempt timeout.
func retryPolicy(cfg *config) plannr.RetryPolicy {
	p := plannr.DefaultRetryPolicy()
	p.MaxRetries = cfg.retryMax
	p.AttemptTimeout = cfg.attemptTimeout
	return p
}
