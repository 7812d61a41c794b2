package cli

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/plannr-mcp/plannr-mcp/internal/httpserve"
	"github.com/plannr-mcp/plannr-mcp/internal/stdio"
)

// serveGroups are the settings of the serve command.
func serveGroups() []group {
	return []group{groupPlannr, groupCredential, groupStore, groupClient, groupToolset, groupTransport, groupRemote, groupStoreDB}
}

// clientTokenHelp tells a person how to configure client tokens.
const clientTokenHelp = "Set PLANNR_MCP_AUTH_TOKENS (comma-separated) or --auth-token-file (one token a line) to the bearer tokens clients must send, or listen on 127.0.0.1."

// serve serves MCP over stdio until stdin closes or a signal arrives, or
// over HTTP until a signal arrives. Either way, calls in flight may finish
// within the shutdown timeout.
func (e *runEnv) serve(ctx context.Context, args []string) error {
	cfg, err := e.parseFlagsOnly("serve", args, serveGroups())
	if err != nil {
		return err
	}
	if cfg.remote.oauth() {
		return e.serveRemote(ctx, cfg)
	}
	a, err := e.newApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.close()
	metricsCtx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	if err := a.telemetry.ServeMetrics(metricsCtx, cfg.metricsAddr); err != nil {
		return err
	}
	if cfg.transport == transportHTTP {
		return e.serveHTTP(ctx, a, cfg)
	}
	// One client's calls wait on Plannr, not on the CPU: on one P a call
	// runs on one thread, with no wake-ups between threads, which on a
	// small machine cost more than the call's own work (see
	// stdio.Options.PollStdin). GOMAXPROCS in the environment wins, and a
	// process whose stdin is not a client's pipe (a test) is left alone.
	if stdio.Pollable(e.In, e.Out) && !cfg.gomaxprocs {
		runtime.GOMAXPROCS(1)
	}
	a.logger.Info("serving MCP over stdio", "version", e.version)
	err = stdio.Serve(ctx, a.mcp, stdio.Options{
		In: e.In, Out: e.Out,
		ShutdownTimeout: cfg.shutdownTimeout,
		Logger:          a.logger,
		PollStdin:       true,
	})
	if errors.Is(err, stdio.ErrCutOff) {
		return fmt.Errorf("calls %w", err)
	}
	return err
}

// serveHTTP serves the app's MCP server over streamable HTTP until ctx ends.
func (e *runEnv) serveHTTP(ctx context.Context, a *app, cfg *config) error {
	hc := cfg.http
	hc.Logger = a.logger
	if a.telemetry.Enabled() {
		hc.OnReject = a.telemetry.OnReject
	}
	// A client token never goes upstream, but no upstream text may carry
	// one out either.
	a.secrets.Set("client tokens", hc.Tokens...)
	srv, err := httpserve.New(a.mcp, hc)
	if err == nil {
		a.telemetry.WatchSessions(srv.LiveSessions)
		err = srv.ListenAndServe(ctx)
	}
	if errors.Is(err, httpserve.ErrNoClientTokens) {
		return fmt.Errorf("%w. %s", err, clientTokenHelp)
	}
	return err
}
