package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Exit codes.
const (
	// exitOK is success, help included.
	exitOK = 0
	// exitFailed is work that failed: a tool that answered with an error,
	// a credential Plannr refused, a server that could not serve.
	exitFailed = 1
	// exitUsage is a command line that could not be understood or names
	// something wrong: an unknown command or flag, a flag or variable of
	// the wrong form, invalid JSON-ARGS, an unknown tool.
	exitUsage = 2
)

// errUsage marks a command line whose problem has already been printed
// (by the flag package, or with a usage line).
var errUsage = errors.New("usage")

// errReported marks a failure whose explanation has already been printed:
// a tool's error result, or auth status saying what is wrong.
var errReported = errors.New("reported")

// usageError is a mistake in the command line, not yet printed.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badUsage marks err as a mistake in the command line; nil stays nil.
func badUsage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// exitCode is the exit code for a command's outcome, printing what has not
// been printed yet.
func exitCode(command string, err error, stderr io.Writer) int {
	var bad usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.As(err, &bad):
		fmt.Fprintf(stderr, "plannr-mcp %s: %v\n(run plannr-mcp help for the commands and flags)\n", command, err)
		return exitUsage
	case errors.Is(err, errReported):
		return exitFailed
	default:
		fmt.Fprintln(stderr, "plannr-mcp:", err)
		return exitFailed
	}
}
