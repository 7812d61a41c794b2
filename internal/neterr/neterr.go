// Package neterr tells network failures apart the same way on every
// platform. On Unix a connection reset is syscall.ECONNRESET; on Windows
// the socket calls fail with Windows Sockets error numbers such as
// WSAECONNRESET (10054), which errors.Is(err, syscall.ECONNRESET) does not
// match there. The checks here know both.
package neterr

import (
	"errors"
	"runtime"
	"syscall"
)

// Kind is a kind of network failure.
type Kind int

// Kinds of network failure.
const (
	// Other is a failure of no kind below.
	Other Kind = iota
	// Reset is a connection the peer reset, aborted or shut down, or a
	// broken pipe: the request may or may not have arrived.
	Reset
	// Refused is a connection nothing accepted.
	Refused
	// Unreachable is a network or host that cannot be reached.
	Unreachable
)

// Windows error numbers (winerror.h): Windows Sockets errors and the
// system errors a broken connection reports.
const (
	errorNetnameDeleted = 64    // ERROR_NETNAME_DELETED
	errorBrokenPipe     = 109   // ERROR_BROKEN_PIPE
	wsaeNetUnreach      = 10051 // WSAENETUNREACH
	wsaeConnAborted     = 10053 // WSAECONNABORTED
	wsaeConnReset       = 10054 // WSAECONNRESET
	wsaeShutdown        = 10058 // WSAESHUTDOWN
	wsaeConnRefused     = 10061 // WSAECONNREFUSED
	wsaeHostUnreach     = 10065 // WSAEHOSTUNREACH
)

// Of is the kind of failure err is, on this platform.
func Of(err error) Kind { return of(runtime.GOOS, err) }

// IsReset reports a connection reset, aborted or cut (see Reset).
func IsReset(err error) bool { return Of(err) == Reset }

// IsRefused reports a connection refused.
func IsRefused(err error) bool { return Of(err) == Refused }

// IsUnreachable reports a network or host that cannot be reached.
func IsUnreachable(err error) bool { return Of(err) == Unreachable }

// of is Of for the platform goos, so that every platform's rules can be
// tested anywhere.
func of(goos string, err error) Kind {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return Other
	}
	if goos == "windows" {
		switch errno {
		case wsaeConnReset, wsaeConnAborted, wsaeShutdown, errorBrokenPipe, errorNetnameDeleted:
			return Reset
		case wsaeConnRefused:
			return Refused
		case wsaeNetUnreach, wsaeHostUnreach:
			return Unreachable
		}
		// Go's portable names too: an error made by Go itself, not by
		// the system, may carry them.
	}
	switch {
	case errors.Is(errno, syscall.ECONNRESET), errors.Is(errno, syscall.ECONNABORTED), errors.Is(errno, syscall.EPIPE):
		return Reset
	case errors.Is(errno, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(errno, syscall.ENETUNREACH), errors.Is(errno, syscall.EHOSTUNREACH):
		return Unreachable
	}
	return Other
}
