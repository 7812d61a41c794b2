package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// The settings of the commands that call Plannr once.
func callGroups() []group {
	return []group{groupPlannr, groupCredential, groupStore, groupClient, groupToolset}
}

// inProcessClient connects an MCP client to s in this process, so that
// one-shot commands take the same path as a real client.
func (e *runEnv) inProcessClient(ctx context.Context, s *server.MCPServer) (*client.Client, error) {
	c, err := client.NewInProcessClient(s)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "plannr-mcp-cli", Version: e.version}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	if _, err := c.Initialize(ctx, init); err != nil {
		return nil, fmt.Errorf("initializing: %w", err)
	}
	return c, nil
}

// tools prints every tool's definition, as tools/list returns it. Listing
// needs no credential and sends nothing to Plannr.
func (e *runEnv) tools(ctx context.Context, args []string) error {
	cfg, err := e.parseFlagsOnly("tools", args, []group{groupToolset}, groupPlannr)
	if err != nil {
		return err
	}
	toolset := tools.NewToolset(nil, toolsetOptions(cfg, "", e.newLogger(cfg.logLevel)))
	c, err := e.inProcessClient(ctx, toolset.NewServer(tools.ServerConfig{Version: e.version}))
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return fmt.Errorf("listing tools: %w", err)
	}
	return printJSON(e.Out, map[string]any{"tools": res.Tools})
}

// call runs one tool once and prints its result as JSON.
func (e *runEnv) call(ctx context.Context, args []string) error {
	cfg, rest, err := e.parse("call", args, callGroups())
	if err != nil {
		return err
	}
	// The command line is checked in full before anything is wired, so a
	// mistake in it is the first and only thing printed.
	if len(rest) == 0 || len(rest) > 2 {
		fmt.Fprintln(e.Err, "usage: plannr-mcp call TOOL [JSON-ARGS] [flags]  (see plannr-mcp tools)")
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
	a, err := e.newApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.close()
	c, err := e.inProcessClient(ctx, a.mcp)
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
		return fmt.Errorf("calling %s: %w", rest[0], err)
	}
	if err := printJSON(e.Out, res); err != nil {
		return err
	}
	if res.IsError {
		return errReported
	}
	return nil
}

// accounts prints the accounts the configured credential can act for, so a
// person can set PLANNR_ACCOUNT_UUID to the right one.
func (e *runEnv) accounts(ctx context.Context, args []string) error {
	_, a, err := e.wired(ctx, "accounts", args, callGroups())
	if err != nil {
		return err
	}
	defer a.close()
	logins, err := a.api.ListLogins(ctx)
	if err != nil {
		return fmt.Errorf("listing accounts: %s", a.toolset.DescribeError(ctx, err))
	}
	accounts := tools.Accounts(logins, a.account)
	if len(accounts) == 0 {
		fmt.Fprintln(e.Out, "The token can act for no Plannr account.")
		return nil
	}
	w := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tTYPE\tACCOUNT UUID\t")
	for _, acct := range accounts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", untrusted.Text(acct.Name), untrusted.Text(acct.Type), acct.AccountUUID, strings.Join(acct.Marks(), ", "))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.Err, "Set PLANNR_ACCOUNT_UUID (or --account-uuid) to the ACCOUNT UUID of the account to act for.")
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
