// Command plannr-mcp is an MCP server that lets AI assistants manage the
// OAuth2 connections of a Plannr CRM account.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/plannr-mcp/plannr-mcp/internal/cli"
)

// version is stamped by release builds: -ldflags "-X main.version=v1.2.3".
// Empty means the module version the Go toolchain recorded, or "dev".
var version string

func main() {
	// On Windows, Ctrl+C and Ctrl+Break arrive as os.Interrupt, and closing
	// the console, logging off or shutting down as syscall.SIGTERM: the
	// same graceful shutdown as on Unix.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv, version)
	stop()
	os.Exit(code)
}
