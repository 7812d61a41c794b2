package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// credentialHelp tells a person how to give the server a credential.
const credentialHelp = "Set " + envToken + " to a Plannr Personal Access Token (or " + envTokenFile +
	" to a file holding one) in this server's entry in the MCP client's configuration, then restart the server."

const sandboxInstructions = "SANDBOX MODE: this server is connected to a built-in fake Plannr with sample data, not to a real Plannr account. Changes are not real and vanish when the server stops.\n\n" + tools.DefaultInstructions

// app is a wired server: the toolset, the MCP server and what to close.
type app struct {
	toolset *tools.Toolset
	mcp     *server.MCPServer
	logger  *slog.Logger
	close   func()
}

// newApp wires credentials, the Plannr client and the tools from cfg.
func newApp(cfg *config, stderr io.Writer, getenv func(string) string) (*app, error) {
	logger := newLogger(stderr, cfg.logLevel)
	closeFn := func() {}
	baseURL := cfg.baseURL
	instructions := tools.DefaultInstructions

	var ts oauth2.TokenSource
	switch {
	case cfg.sandbox:
		url, stop, err := startSandbox()
		if err != nil {
			return nil, err
		}
		closeFn = stop
		baseURL = url
		ts = auth.PersonalAccessToken(plannrtest.SandboxToken)
		instructions = sandboxInstructions
		logger.Warn("SANDBOX MODE: serving sample data from a built-in fake Plannr, not a real account")
	case getenv(envToken) != "":
		ts = auth.PersonalAccessToken(getenv(envToken))
	case cfg.tokenFile != "":
		token, err := auth.ReadTokenFile(cfg.tokenFile)
		if err != nil {
			return nil, err
		}
		ts = auth.PersonalAccessToken(token)
	default:
		ts = auth.Unconfigured("plannr-mcp has no token")
		logger.Warn("no Plannr credential configured; tools will answer with setup instructions", "help", credentialHelp)
	}

	client, err := plannr.NewClient(ts,
		plannr.WithBaseURL(baseURL),
		plannr.WithAccountUUID(cfg.accountUUID),
		plannr.WithUserAgent("plannr-mcp/"+version()),
		plannr.WithTimeout(cfg.timeout),
		plannr.WithRetry(retryPolicy(cfg)),
		plannr.WithRateLimit(plannr.RateLimit{Requests: cfg.rateLimit, Per: time.Minute}),
		plannr.WithListCache(cfg.listCacheTTL),
		plannr.WithLogger(logger),
	)
	if err != nil {
		closeFn()
		return nil, err
	}
	toolset := tools.NewToolset(client, tools.Options{CredentialHelp: credentialHelp, Logger: logger})
	return &app{
		toolset: toolset,
		mcp:     toolset.NewServer(tools.ServerConfig{Version: version(), Instructions: instructions}),
		logger:  logger,
		close:   closeFn,
	}, nil
}

// startSandbox serves the fake Plannr on a loopback port for this process.
func startSandbox() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	srv := &http.Server{Handler: plannrtest.New(plannrtest.WithRateLimit(0)), ReadHeaderTimeout: 5 * time.Second}
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

// retryPolicy is the default policy with the configured number of retries
// and attempt timeout.
func retryPolicy(cfg *config) plannr.RetryPolicy {
	p := plannr.DefaultRetryPolicy()
	p.MaxRetries = cfg.retryMax
	p.AttemptTimeout = cfg.attemptTimeout
	return p
}
