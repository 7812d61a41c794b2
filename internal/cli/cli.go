// Package cli is plannr-mcp's command line: its commands, their flags,
// the configuration read from the environment and the flags, the wiring of
// the pieces, and the exit codes.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
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
  plannr-mcp users [flags]          with --auth oauth: who has signed in, when, with which clients
  plannr-mcp users revoke EMAIL|ID  revoke a person's MCP grants and forget their Plannr tokens
  plannr-mcp store migrate|rekey    apply the store's migrations; re-encrypt it under the current key
  plannr-mcp version                print the version
  plannr-mcp sandbox-api [flags]    serve the fake Plannr API alone, for tests and for trying the login
  plannr-mcp help                   print this

Run plannr-mcp COMMAND -h for a command's flags. Exit codes: 0 success,
1 the work failed, 2 a usage error.
`

// IO is the process's standard streams.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// Run is the whole program: it runs the command args name with the
// environment getenv gives and returns the exit code. version, when not
// empty, is the version stamped at build time.
func Run(ctx context.Context, args []string, stdio IO, getenv func(string) string, version string) int {
	command := "serve"
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help"):
		command = "help"
	case len(args) > 0 && !isFlag(args[0]):
		command, args = args[0], args[1:]
	}
	env := &runEnv{IO: stdio, settings: loadSettings(getenv), version: cmpVersion(version)}
	var err error
	switch command {
	case "serve":
		err = env.serve(ctx, args)
	case "tools":
		err = env.tools(ctx, args)
	case "call":
		err = env.call(ctx, args)
	case "login":
		err = env.login(ctx, args)
	case "logout":
		err = env.logout(ctx, args)
	case "auth":
		err = env.auth(ctx, args)
	case "accounts":
		err = env.accounts(ctx, args)
	case "users":
		err = env.users(ctx, args)
	case "store":
		err = env.storeCommand(ctx, args)
	case "sandbox-api":
		err = env.sandboxAPI(ctx, args)
	case "version":
		fmt.Fprintln(stdio.Out, "plannr-mcp", env.version)
	case "help":
		fmt.Fprint(stdio.Out, usage)
	default:
		fmt.Fprintf(stdio.Err, "plannr-mcp: unknown command %q\n\n%s", command, usage)
		return exitUsage
	}
	return exitCode(command, err, stdio.Err)
}

// runEnv is what every command runs with.
type runEnv struct {
	IO
	settings *settings
	version  string
}

// cmpVersion is the stamped version, else the module version the Go
// toolchain recorded, else "dev".
func cmpVersion(stamped string) string {
	if stamped != "" {
		return stamped
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' }

// parse parses a command's flags, those of the groups it declares, and
// returns the config of the groups it takes (which may include groups whose
// settings only the environment gives) and its positional arguments. -h
// prints the command's flags on stdout.
func (e *runEnv) parse(name string, args []string, declared []group, taken ...group) (*config, []string, error) {
	fs := flag.NewFlagSet("plannr-mcp "+name, flag.ContinueOnError)
	fs.SetOutput(e.Err)
	e.settings.declare(fs, declared...)
	fs.Usage = func() {} // help goes to stdout, mistakes to stderr: see below
	rest, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(e.Out, "Usage: plannr-mcp %s [flags]\n\n", name)
		if name == "sandbox-api" {
			fmt.Fprint(e.Out, sandboxAPIHelp+"\nFlags:\n")
		}
		fs.SetOutput(e.Out)
		fs.PrintDefaults()
		return nil, nil, err
	case err != nil:
		fmt.Fprintf(e.Err, "Run plannr-mcp %s -h for its flags.\n", name)
		return nil, nil, err
	}
	cfg, err := e.settings.parse(append(declared, taken...)...)
	if err != nil {
		return nil, nil, err
	}
	return cfg, rest, nil
}

// parseFlagsOnly is parse for a command that takes no positional arguments.
func (e *runEnv) parseFlagsOnly(name string, args []string, declared []group, taken ...group) (*config, error) {
	cfg, rest, err := e.parse(name, args, declared, taken...)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, unexpectedArgs(rest)
	}
	return cfg, nil
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments, so that "call list_oauth_connections --sandbox"
// works.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func unexpectedArgs(args []string) error {
	return badUsage(fmt.Errorf("unexpected arguments: %s", strings.Join(args, " ")))
}

// newLogger writes structured logs to stderr only: in stdio mode stdout
// carries protocol messages and nothing else.
func (e *runEnv) newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.Err, &slog.HandlerOptions{Level: level}))
}
