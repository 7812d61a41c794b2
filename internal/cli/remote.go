package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/authserver"
	"github.com/plannr-mcp/plannr-mcp/internal/httpserve"
	"github.com/plannr-mcp/plannr-mcp/internal/peruser"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// remoteHelp is the advice of a tool error about a person's Plannr sign-in.
const remoteHelp = "Each person signs in to Plannr through their MCP client: disconnect plannr-mcp in the client and connect it again to sign in anew."

// pruneEvery is how often the remote mode deletes expired rows.
const pruneEvery = 10 * time.Minute

// serveRemote serves MCP over HTTP with --auth oauth: plannr-mcp is an
// authorization server in front of Plannr and each request acts for the
// person who signed in, with their own Plannr tokens from the store.
func (e *runEnv) serveRemote(ctx context.Context, cfg *config) error {
	if cfg.transport != transportHTTP {
		return badUsage(errors.New("--auth oauth is for --transport http: over stdio the MCP client launches plannr-mcp for one person, who uses plannr-mcp login or a token"))
	}
	logger := e.newLogger(cfg.logLevel)
	secrets := untrusted.NewSecrets()
	if len(cfg.http.Tokens) > 0 {
		logger.Warn("client tokens are not used with --auth oauth: each person signs in instead")
	}
	if cfg.accountUUID != "" {
		logger.Warn("PLANNR_ACCOUNT_UUID is not used with --auth oauth: each person acts for their own account")
	}
	tel, err := e.newTelemetry(ctx, cfg, logger, secrets)
	if err != nil {
		return err
	}
	defer flushTelemetry(ctx, tel, logger)
	metricsCtx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	if err := tel.ServeMetrics(metricsCtx, cfg.metricsAddr); err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.http.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.http.Addr, err)
	}
	defer ln.Close()
	publicURL := cfg.remote.publicURL
	if publicURL == "" {
		if !loopbackListener(ln) {
			return badUsage(fmt.Errorf("--auth oauth on %s, which other machines may reach, needs --public-url (PLANNR_MCP_PUBLIC_URL): the https URL clients reach the server at", cfg.http.Addr))
		}
		publicURL = "http://" + ln.Addr().String()
	}

	r, err := e.remoteParts(ctx, cfg, publicURL, logger, secrets)
	if err != nil {
		return err
	}
	defer r.close()

	users := peruser.New(peruser.Options{
		Store:    r.store,
		Identify: identify,
		BaseURL:  r.plannr.BaseURL, ClientSecret: r.plannr.Secret,
		ClientOptions: []plannr.Option{
			plannr.WithUserAgent("plannr-mcp/" + e.version),
			plannr.WithTimeout(cfg.timeout),
			plannr.WithRetry(retryPolicy(cfg)),
			plannr.WithListCache(cfg.listCacheTTL),
			plannr.WithMaxResponseBytes(cfg.maxResponse),
			plannr.WithLogger(logger),
			plannr.WithSecrets(secrets),
			plannr.WithObserver(tel.PlannrObserver(r.plannr.BaseURL)),
		},
		RateLimit:      plannr.RateLimit{Requests: cfg.rateLimit, Per: time.Minute},
		RefreshTimeout: cfg.timeout,
		Secrets:        secrets,
		Logger:         logger,
		OnRefresh:      tel.OnRefresh,
	})
	opts := toolsetOptions(cfg, remoteHelp, logger)
	opts.AccountUUID = ""
	opts.Subject = func(ctx context.Context) string {
		p, _ := authserver.PrincipalFrom(ctx)
		return p.UserID
	}
	toolset := tools.NewToolset(users, opts)
	logToolSelection(logger, cfg, toolset)
	as, err := authserver.New(authserver.Config{
		PublicURL: publicURL, Endpoint: httpserve.Endpoint,
		Store: r.store, Keys: r.keys, Plannr: r.plannr,
		Capabilities: capabilities(toolset),
		AccessTTL:    cfg.remote.accessTTL, RefreshTTL: cfg.remote.refreshTTL,
		InsecureMetadataURLs: cfg.remote.insecureMetadata,
		Secrets:              secrets, Logger: logger,
		OnSignIn: tel.SignIn,
	})
	if err != nil {
		return badUsage(err)
	}
	if cfg.remote.insecureMetadata {
		logger.Warn("PLANNR_MCP_INSECURE_METADATA_URLS is set: client metadata documents are fetched over http and from private addresses; this is for tests only")
	}
	go prune(ctx, r.store, logger)

	hc := cfg.http
	hc.Logger = logger
	hc.Tokens = nil
	hc.Verifier = as
	hc.Handlers = as.Handlers()
	if u, err := url.Parse(publicURL); err == nil {
		hc.PublicHosts = []string{u.Host}
	}
	if tel.Enabled() {
		hc.OnReject = tel.OnReject
	}
	srv, err := httpserve.New(toolset.NewServer(tools.ServerConfig{
		Version: e.version, Instructions: r.instructions, Options: tel.ServerOptions(),
	}), hc)
	if err != nil {
		return err
	}
	tel.WatchSessions(srv.LiveSessions)
	logger.Info("MCP authorization: each person signs in with Plannr", "public", publicURL, "resource", as.Resource(),
		"plannr_callback", r.plannr.RedirectURL, "store", r.store.Describe())
	return srv.Serve(ctx, ln)
}

// identify is who a tool call acts for, from the token check.
func identify(ctx context.Context) (peruser.Identity, bool) {
	p, ok := authserver.PrincipalFrom(ctx)
	return peruser.Identity{UserID: p.UserID, AccountUUID: p.AccountUUID}, ok
}

// remoteParts is what the remote mode runs on besides the HTTP server.
type remoteParts struct {
	store        store.Store
	keys         *store.Keyring
	plannr       *auth.Client
	instructions string
	close        func()
}

// remoteParts opens the store and sets up the Plannr client: the
// configured one, or, with --sandbox, the fake Plannr's demo client and a
// throwaway store unless --store names one.
func (e *runEnv) remoteParts(ctx context.Context, cfg *config, publicURL string, logger *slog.Logger, secrets *untrusted.Secrets) (*remoteParts, error) {
	r := &remoteParts{instructions: tools.DefaultInstructions, close: func() {}}
	client := &auth.Client{BaseURL: cfg.baseURL, ID: cfg.clientID, RedirectURL: publicURL + authserver.CallbackPath, Secrets: secrets}
	spec := cfg.remote.storeSpec
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if cfg.sandbox {
		running, err := sandbox.Start(ctx, sandbox.Config{Logger: logger, Redirects: []string{client.RedirectURL}})
		if err != nil {
			return nil, err
		}
		closers = append(closers, running.Close)
		client.BaseURL, client.ID, client.Secret = running.URL, sandbox.DemoClientID, sandbox.DemoClientSecret
		r.instructions = sandboxInstructions
		logger.Warn("SANDBOX MODE: people sign in to a built-in fake Plannr with sample data, not a real account",
			"demo_users", sandbox.OwnerEmail+","+sandbox.SecondUserEmail, "password", sandbox.DemoPassword)
		if spec == "" {
			dir, err := os.MkdirTemp("", "plannr-mcp-sandbox-")
			if err != nil {
				cleanup()
				return nil, err
			}
			closers = append(closers, func() { os.RemoveAll(dir) })
			spec = filepath.Join(dir, store.DefaultFileName)
		}
	} else {
		if client.ID == "" {
			return nil, badUsage(errors.New("--auth oauth needs plannr-mcp's own OAuth2 client at Plannr: set PLANNR_CLIENT_ID and PLANNR_CLIENT_SECRET (or PLANNR_CLIENT_SECRET_FILE), with " + client.RedirectURL + " registered as its redirect URL"))
		}
		secret, err := clientSecret(cfg)
		if err != nil {
			return nil, badUsage(err)
		}
		client.Secret = secret
		if spec == "" {
			if spec, err = cfg.storeSpec(); err != nil {
				return nil, err
			}
		}
	}
	keys, err := cfg.keyring(cfg.sandbox && cfg.remote.storeSpec == "")
	if err != nil {
		cleanup()
		return nil, err
	}
	secrets.Set("store", append([]string{cfg.remote.storeKey, store.Password(spec)}, cfg.remote.oldKeys...)...)
	secrets.Set("plannr client secret", client.Secret)
	st, applied, err := store.Open(ctx, spec, keys)
	if err != nil {
		cleanup()
		return nil, err
	}
	closers = append(closers, func() { st.Close() })
	logger.Info("store ready", "store", st.Describe(), "schema_version", store.SchemaVersion(), "migrations_applied", applied)
	r.store, r.keys, r.plannr, r.close = st, keys, client, cleanup
	return r, nil
}

// retryPolicy is the Plannr client's retry policy from cfg.
func retryPolicy(cfg *config) plannr.RetryPolicy {
	retry := plannr.DefaultRetryPolicy()
	retry.MaxRetries, retry.AttemptTimeout = cfg.retryMax, cfg.attemptTimeout
	return retry
}

// capabilities says what a client allowed will be able to do, by the tools served.
func capabilities(ts *tools.Toolset) []string {
	var out []string
	for _, t := range ts.Tools() {
		switch t.Definition.Name {
		case tools.ListToolName:
			out = append(out, "see your Plannr OAuth connections and their health")
		case tools.AccountsToolName:
			out = append(out, "see which Plannr accounts you can act for")
		case tools.RenameToolName:
			out = append(out, "rename your OAuth connections")
		case tools.DeleteToolName:
			out = append(out, "delete your OAuth connections, each after asking you to confirm")
		}
	}
	return out
}

// prune deletes expired rows now and every pruneEvery until ctx ends.
func prune(ctx context.Context, st store.Store, logger *slog.Logger) {
	tick := time.NewTicker(pruneEvery)
	defer tick.Stop()
	for {
		if n, err := st.Prune(ctx, time.Now()); err != nil && ctx.Err() == nil {
			logger.Warn("pruning the store", "error", err)
		} else if n > 0 {
			logger.Debug("pruned expired rows from the store", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// loopbackListener reports a listener on a loopback address only.
func loopbackListener(ln net.Listener) bool {
	a, ok := ln.Addr().(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}
