package cli

import (
	"context"
	"fmt"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// sandboxAPIHelp is what sandbox-api -h says before its flags.
const sandboxAPIHelp = `Serves the fake Plannr API with sample data on its own, for tests and for
trying plannr-mcp. Prints the base URL (for PLANNR_BASE_URL) on stdout, then
serves until interrupted.

It accepts the bearer token below, and it has Plannr's OAuth2 endpoints with
a demo client (PLANNR_CLIENT_ID=` + sandbox.DemoClientID + `,
PLANNR_CLIENT_SECRET=` + sandbox.DemoClientSecret + `) and a sign-in page for two
demo users, ` + sandbox.OwnerEmail + ` and ` + sandbox.SecondUserEmail + `
(password ` + sandbox.DemoPassword + `), so that plannr-mcp login works against it.

Besides the Plannr endpoints it answers, for tests only:
  GET  /_sandbox/requests   every API request received since the last reset:
                            method, path, status and state (in-flight, completed,
                            aborted by the caller, or dropped by a fault)
  POST /_sandbox/faults     queue a fault for matching requests, a JSON object:
                            method, path (empty matches any), status, body,
                            content_type, headers {name: value}, delay_ms,
                            times (default 1), reset, hang, truncate, size,
                            drop_answer (carry the request out, then cut the
                            connection instead of answering)
  POST /_sandbox/reset      restore the sample data and clear faults and the log
`

// sandboxAPI serves the fake Plannr API as a process of its own, so that
// tests written in any language can point plannr-mcp at it. It prints its
// base URL as the first line on stdout and serves until ctx ends.
func (e *runEnv) sandboxAPI(ctx context.Context, args []string) error {
	cfg, err := e.parseFlagsOnly("sandbox-api", args, []group{groupSandboxAPI}, groupPlannr)
	if err != nil {
		return err
	}
	logger := e.newLogger(cfg.logLevel)
	running, err := sandbox.Start(ctx, sandbox.Config{
		Addr: cfg.sandboxAddr, Token: cfg.sandboxToken, Redirects: cfg.redirectURLs, Inspect: true, Logger: logger,
	})
	if err != nil {
		return fmt.Errorf("sandbox API: %w", err)
	}
	defer running.Close()
	logger.Info("sandbox API listening: a fake Plannr with sample data, for tests", "url", running.URL)
	if _, err := fmt.Fprintln(e.Out, running.URL); err != nil {
		return fmt.Errorf("printing the URL: %w", err)
	}
	select {
	case err := <-running.Done():
		return fmt.Errorf("sandbox API: %w", err)
	case <-ctx.Done():
		return nil
	}
}
