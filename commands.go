package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plannr-mcp/plannr-mcp/tools"
)

// flagDecl declares a command's own flags; the function it returns
// finishes them after parsing.
type flagDecl func(fs *flag.FlagSet, getenv func(string) string) func() error

// parseCommand parses a command's flags, the shared ones and those extra
// declares, and returns the config and the positional arguments.
func parseCommand(name string, args []string, stderr io.Writer, getenv func(string) string, extra ...flagDecl) (*config, []string, error) {
	fs, finish := newFlagSet("plannr-mcp "+name, stderr, getenv)
	finishExtra := make([]func() error, len(extra))
	for i, declare := range extra {
		finishExtra[i] = declare(fs, getenv)
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := finish()
	if err != nil {
		return nil, nil, badUsage(err)
	}
	for _, f := range finishExtra {
		if err := f(); err != nil {
			return nil, nil, badUsage(err)
		}
	}
	return cfg, rest, nil
}

// setup parses a command line that takes no positional arguments and
// wires the app.
func setup(name string, args []string, stderr io.Writer, getenv func(string) string, extra ...flagDecl) (*app, error) {
	cfg, rest, err := parseCommand(name, args, stderr, getenv, extra...)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, unexpectedArgs(rest)
	}
	return newApp(cfg, stderr, getenv)
}

// cmdServe serves MCP over stdio until stdin closes or a signal arrives, or
// over HTTP until a signal arrives. Either way, calls in flight may finish
// within the shutdown timeout.
func cmdServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	var opts serveOptions
	a, err := setup("serve", args, stderr, getenv, opts.declare)
	if err != nil {
		return err
	}
	defer a.close()
	if opts.transport == transportHTTP {
		return serveHTTP(ctx, a, &opts)
	}
	stdin, restore := pollStdin(stdin, stdout, getenv)
	defer restore()
	stdio := server.NewStdioServer(a.mcp)
	stdio.SetErrorLogger(slog.NewLogLogger(a.logger.Handler(), slog.LevelError))
	a.logger.Info("serving MCP over stdio", "version", version())
	// A signal ends input through the drain rather than by cancelling
	// Listen's context, which would cancel the calls in flight.
	drain := newStdioDrain(stdin, stdout, ctx.Done(), opts.shutdownTimeout, a.logger)
	err = stdio.Listen(context.WithoutCancel(ctx), drain, drain)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("stdio server: %w", err)
	}
	if drain.cutOff() {
		return fmt.Errorf("calls still running after the shutdown timeout (%s) were cut off", opts.shutdownTimeout)
	}
	return nil
}

// inProcessClient connects an MCP client to the app's server in this process,
// so that one-shot commands take the same path as a real client.
func inProcessClient(ctx context.Context, a *app) (*client.Client, error) {
	c, err := client.NewInProcessClient(a.mcp)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "plannr-mcp-cli", Version: version()}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	if _, err := c.Initialize(ctx, init); err != nil {
		return nil, fmt.Errorf("initializing: %w", err)
	}
	return c, nil
}

// cmdTools prints every tool's definition, as tools/list returns it.
func cmdTools(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	a, err := setup("tools", args, stderr, getenv)
	if err != nil {
		return err
	}
	defer a.close()
	c, err := inProcessClient(ctx, a)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return fmt.Errorf("listing tools: %w", err)
	}
	return printJSON(stdout, map[string]any{"tools": res.Tools})
}

// errToolFailed reports a tool call that answered with isError; its
// result has been printed.
var errToolFailed = errors.New("tool call failed")

// cmdCall runs one tool once and prints its result as JSON.
func cmdCall(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, rest, err := parseCommand("call", args, stderr, getenv)
	if err != nil {
		return err
	}
	// The command line is checked in full before anything is wired, so a
	// mistake in it is the first and only thing printed.
	if len(rest) == 0 || len(rest) > 2 {
		fmt.Fprintln(stderr, "usage: plannr-mcp call TOOL [JSON-ARGS] [flags]  (see plannr-mcp tools)")
		return errUsage
	}
	var arguments json.RawMessage
	if len(rest) == 2 {
		arguments = json.RawMessage(rest[1])
		if !json.Valid(arguments) {
			return badUsage(fmt.Errorf("JSON-ARGS is not valid JSON: %s", rest[1]))
		}
	}
	if err := tools.CheckToolNames([]string{rest[0]}); err != nil {
		return badUsage(err)
	}
	a, err := newApp(cfg, stderr, getenv)
	if err != nil {
		return err
	}
	defer a.close()
	c, err := inProcessClient(ctx, a)
	if err != nil {
		return err
	}
	defer c.Close()
	var req mcp.CallToolRequest
	req.Params.Name = rest[0]
	if arguments != nil {
		req.Params.Arguments = arguments
	}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return fmt.Errorf("calling %s: %w (run plannr-mcp tools to see the tool names)", rest[0], err)
	}
	if err := printJSON(stdout, res); err != nil {
		return err
	}
	if res.IsError {
		return errToolFailed
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
