//go:build unix

package stdio

import (
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestPollStdinPollsAPipeAndRestoresIt(t *testing.T) {
	// A pipe as an MCP client hands it over: blocking, which os.Pipe's
	// are not.
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		t.Fatal(err)
	}
	r, w := os.NewFile(uintptr(fds[0]), "stdin"), os.NewFile(uintptr(fds[1]), "client")
	defer r.Close()
	if nonblocking(t, r) {
		t.Fatal("the test pipe is non-blocking from the start")
	}
	in, restore := pollStdin(r, io.Discard)
	if in == io.Reader(r) {
		t.Fatal("a pipe was not handed to the poller")
	}
	if !nonblocking(t, r) {
		t.Error("the pipe is not non-blocking while served")
	}
	go func() {
		_, _ = w.WriteString("line 1\n")
		w.Close()
	}()
	got, err := io.ReadAll(in)
	if err != nil || string(got) != "line 1\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	restore()
	if nonblocking(t, r) {
		t.Error("the pipe is still non-blocking after restore")
	}
}

func TestPollStdinLeavesOtherReadersAlone(t *testing.T) {
	sr := strings.NewReader("x")
	if in, restore := pollStdin(sr, io.Discard); in != io.Reader(sr) {
		t.Error("a reader that is not a pipe was replaced")
	} else {
		restore()
	}
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if in, restore := pollStdin(f, io.Discard); in != io.Reader(f) {
		t.Error("a regular file was replaced")
	} else {
		restore()
	}
}

func nonblocking(t *testing.T, f *os.File) bool {
	t.Helper()
	raw, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	if err := raw.Control(func(fd uintptr) {
		flags, ferr = fcntl(int(fd), syscall.F_GETFL)
	}); err != nil || ferr != nil {
		t.Fatal(err, ferr)
	}
	return flags&syscall.O_NONBLOCK != 0
}

func fcntl(fd, cmd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

func TestPollStdinLeavesASocketThatIsAlsoStdoutAlone(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	both := os.NewFile(uintptr(fds[0]), "stdio")
	defer both.Close()
	defer syscall.Close(fds[1])
	in, restore := pollStdin(both, both)
	defer restore()
	if in != io.Reader(both) || nonblocking(t, both) {
		t.Error("a socket that is stdout as well was made non-blocking")
	}
}
