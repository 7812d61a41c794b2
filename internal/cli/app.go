package cli

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/internal/telemetry"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

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
	// telemetry is the metrics and tracing, each possibly off.
	telemetry *telemetry.Telemetry
	close     func()
}

// newApp wires the credential, the Plannr client and the tools from cfg,
// which holds the groups plannr, credential, store, client and toolset.
func (e *runEnv) newApp(ctx context.Context, cfg *config) (*app, error) {
	logger := e.newLogger(cfg.logLevel)
	secrets := untrusted.NewSecrets()
	closeFn := func() {}
	baseURL := cfg.baseURL
	instructions := tools.DefaultInstructions
	tel, err := e.newTelemetry(ctx, cfg, logger, secrets)
	if err != nil {
		return nil, err
	}

	var cred *credential
	if cfg.sandbox {
		running, err := sandbox.Start(ctx, sandbox.Config{Logger: logger})
		if err != nil {
			return nil, err
		}
		closeFn, baseURL = running.Close, running.URL
		cred = &credential{kind: credSandbox, source: auth.PersonalAccessToken(sandbox.SandboxToken), help: patHelp}
		secrets.Set("sandbox token", sandbox.SandboxToken)
		instructions = sandboxInstructions
		logger.Warn("SANDBOX MODE: serving sample data from a built-in fake Plannr, not a real account")
	} else {
		if cred, err = selectCredential(cfg, logger, secrets, tel.OnRefresh); err != nil {
			return nil, err
		}
	}

	retry := retryPolicy(cfg)
	client, err := plannr.NewClient(cred.source,
		plannr.WithBaseURL(baseURL),
		plannr.WithAccountUUID(cfg.accountUUID),
		plannr.WithUserAgent("plannr-mcp/"+e.version),
		plannr.WithTimeout(cfg.timeout),
		plannr.WithRetry(retry),
		plannr.WithRateLimit(plannr.RateLimit{Requests: cfg.rateLimit, Per: time.Minute}),
		plannr.WithListCache(cfg.listCacheTTL),
		plannr.WithMaxResponseBytes(cfg.maxResponse),
		plannr.WithLogger(logger),
		plannr.WithSecrets(secrets),
		plannr.WithObserver(tel.PlannrObserver(baseURL)),
	)
	if err != nil {
		closeFn()
		return nil, err
	}
	toolset := tools.NewToolset(client, toolsetOptions(cfg, cred.help, logger))
	logToolSelection(logger, cfg, toolset)
	return &app{
		toolset: toolset,
		mcp: toolset.NewServer(tools.ServerConfig{
			Version: e.version, Instructions: instructions, Options: tel.ServerOptions(),
		}),
		api:       client,
		account:   cfg.accountUUID,
		logger:    logger,
		secrets:   secrets,
		telemetry: tel,
		close: func() {
			closeFn()
			flushTelemetry(ctx, tel, logger)
		},
	}, nil
}

// newTelemetry sets up the metrics and tracing cfg asks for, each possibly
// off; the exporter's headers join the secrets no upstream text may carry.
func (e *runEnv) newTelemetry(ctx context.Context, cfg *config, logger *slog.Logger, secrets *untrusted.Secrets) (*telemetry.Telemetry, error) {
	tel, err := telemetry.New(ctx, telemetry.Config{
		Version: e.version, Transport: cfg.transport, Metrics: cfg.metricsAddr != "", Env: cfg.otel, Logger: logger,
	})
	if err != nil {
		return nil, badUsage(err)
	}
	secrets.Set("otlp headers", tel.HeaderSecrets()...)
	return tel, nil
}

// flushTelemetry exports the spans still buffered, waiting a few seconds
// at most.
func flushTelemetry(ctx context.Context, tel *telemetry.Telemetry, logger *slog.Logger) {
	if !tel.Tracing() {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(fctx); err != nil {
		logger.Warn("could not export the last spans", "error", err)
	}
}

// wired parses a command that takes no positional arguments and wires its
// app; the caller closes it.
func (e *runEnv) wired(ctx context.Context, name string, args []string, groups []group) (*config, *app, error) {
	cfg, err := e.parseFlagsOnly(name, args, groups)
	if err != nil {
		return nil, nil, err
	}
	a, err := e.newApp(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, a, nil
}

// toolsetOptions are the toolset's options from cfg's toolset group.
func toolsetOptions(cfg *config, credentialHelp string, logger *slog.Logger) tools.Options {
	return tools.Options{
		CredentialHelp:  credentialHelp,
		Logger:          logger,
		EnableDelete:    cfg.enableDelete,
		ReadOnly:        cfg.readOnly,
		Tools:           cfg.tools,
		AccountUUID:     cfg.accountUUID,
		StateKey:        cfg.stateKey,
		NoUI:            cfg.noUI,
		ReauthorizeWait: cfg.reauthorizeWait,
	}
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
		for _, name := range cfg.tools {
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
