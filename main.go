// Command plannr-mcp is an MCP server that lets AI assistants manage the
// OAuth2 connections of a Plannr CRM account.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

const usage = `plannr-mcp: an MCP server for the OAuth2 connections of a Plannr CRM account.

Usage:
  plannr-mcp [serve] [flags]        serve MCP over stdio (what MCP clients launch)
  plannr-mcp [serve] --transport http [--addr 127.0.0.1:8080] [flags]
                                    serve MCP over streamable HTTP at /mcp
  plannr-mcp tools [flags]          print every tool's definition as JSON
  plannr-mcp call TOOL [JSON-ARGS] [flags]
                                    run one tool once and print its result
  plannr-mcp login [flags]          log in to Plannr with OAuth2 in a browser; every
                                    plannr-mcp server of yours on this machine uses the login
  plannr-mcp logout [flags]         remove the stored login
  plannr-mcp auth status [flags]    show the credential in use, whose it is, when it expires
  plannr-mcp accounts [flags]       list the accounts the token can act for, to set PLANNR_ACCOUNT_UUID
  plannr-mcp version                print the version
  plannr-mcp sandbox-api [--addr 127.0.0.1:0]
                                    serve the fake Plannr API alone, for tests

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// errUsage marks a command line that could not be understood; its message
// has already been printed.
var errUsage = errors.New("usage")

// usageError is a command line that names something wrong (a flag's
// value, an argument); it exits 2, as errUsage does.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badUsage marks err as a mistake in the command line.
func badUsage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// run is the whole program, with its environment passed in so tests can drive it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	command := "serve"
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help"):
		command = "help"
	case len(args) > 0 && !isFlag(args[0]):
		command, args = args[0], args[1:]
	}
	var err error
	switch command {
	case "serve":
		err = cmdServe(ctx, args, stdin, stdout, stderr, getenv)
	case "tools":
		err = cmdTools(ctx, args, stdout, stderr, getenv)
	case "call":
		err = cmdCall(ctx, args, stdout, stderr, getenv)
	case "login":
		err = cmdLogin(ctx, args, stdout, stderr, getenv)
	case "logout":
		err = cmdLogout(ctx, args, stdout, stderr, getenv)
	case "auth":
		err = cmdAuth(ctx, args, stdout, stderr, getenv)
	case "accounts":
		err = cmdAccounts(ctx, args, stdout, stderr, getenv)
	case "sandbox-api":
		err = cmdSandboxAPI(ctx, args, stdout, stderr, getenv)
	case "version":
		fmt.Fprintln(stdout, "plannr-mcp", version())
	case "help", "-h", "--help":
		printUsage(stdout)
	default:
		fmt.Fprintf(stderr, "plannr-mcp: unknown command %q\n\n", command)
		printUsage(stderr)
		return 2
	}
	var bad usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &bad):
		fmt.Fprintf(stderr, "plannr-mcp %s: %v\n(run plannr-mcp help for the commands and flags)\n", command, err)
		return 2
	case errors.Is(err, errToolFailed), errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintln(stderr, "plannr-mcp:", err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	noEnv := func(string) string { return "" }
	fs, _ := newFlagSet("plannr-mcp", w, noEnv)
	var serve serveOptions
	serve.declare(fs, noEnv)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' }

// version is the module version stamped by the Go toolchain, or "dev".
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
