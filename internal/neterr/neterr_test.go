package neterr

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

// wrapped is how the net package reports a failed socket call.
func wrapped(errno syscall.Errno) error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("wsarecv", errno)}
}

func TestOf(t *testing.T) {
	cases := []struct {
		goos string
		err  error
		want Kind
	}{
		{"linux", wrapped(syscall.ECONNRESET), Reset},
		{"linux", wrapped(syscall.EPIPE), Reset},
		{"linux", wrapped(syscall.ECONNABORTED), Reset},
		{"linux", wrapped(syscall.ECONNREFUSED), Refused},
		{"darwin", wrapped(syscall.EHOSTUNREACH), Unreachable},
		{"linux", fmt.Errorf("plannr: %w", wrapped(syscall.ENETUNREACH)), Unreachable},
		{"linux", fmt.Errorf("no errno"), Other},
		{"linux", nil, Other},
		// Windows' numbers: what its socket calls return.
		{"windows", wrapped(wsaeConnReset), Reset},
		{"windows", wrapped(wsaeConnAborted), Reset},
		{"windows", wrapped(wsaeShutdown), Reset},
		{"windows", wrapped(errorBrokenPipe), Reset},
		{"windows", wrapped(errorNetnameDeleted), Reset},
		{"windows", wrapped(wsaeConnRefused), Refused},
		{"windows", wrapped(wsaeNetUnreach), Unreachable},
		{"windows", wrapped(wsaeHostUnreach), Unreachable},
		{"windows", wrapped(syscall.ECONNRESET), Reset},
		// The same numbers mean something else elsewhere (64 is ENONET
		// on Linux).
		{"linux", wrapped(errorNetnameDeleted), Other},
		{"linux", wrapped(wsaeConnReset), Other},
	}
	for _, tc := range cases {
		if got := of(tc.goos, tc.err); got != tc.want {
			t.Errorf("of(%s, %v) = %v, want %v", tc.goos, tc.err, got, tc.want)
		}
	}
}
