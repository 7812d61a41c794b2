//go:build unix

package stdio

import (
	"io"
	"os"
	"syscall"
)

// Pollable reports whether stdin is a pipe or socket an MCP client
// launched the server with, which Options.PollStdin hands to the poller: not
// a terminal, a file, a reader in a test, nor a socket that is stdout as
// well (it would become non-blocking for writes too, which os.Stdout does
// not expect).
func Pollable(stdin io.Reader, stdout io.Writer) bool {
	f, ok := stdin.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	if err != nil || info.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return false
	}
	if out, ok := stdout.(*os.File); ok {
		if outInfo, err := out.Stat(); err != nil || os.SameFile(info, outInfo) {
			return false
		}
	}
	return true
}

// pollStdin hands stdin to the runtime's poller when it is the pipe or
// socket an MCP client launches the server with. It returns the reader to
// serve from and a function that undoes the change; anything else (a
// terminal, a file, a reader in a test, or a socket that is stdout as well)
// is returned as it is.
//
// Go reads a blocking pipe on a thread parked in read(2); every hand-off
// between that thread, the request's goroutine and the HTTP client's
// goroutines then wakes another thread. Made non-blocking, stdin is waited
// on in the same epoll call as Plannr's connection. See Options.PollStdin
// for when that pays.
func pollStdin(stdin io.Reader, stdout io.Writer) (io.Reader, func()) {
	if !Pollable(stdin, stdout) {
		return stdin, func() {}
	}
	f := stdin.(*os.File)
	// O_NONBLOCK belongs to the open pipe or socket, which only this
	// process reads, and is cleared again on the way out. The duplicate
	// descriptor belongs to the returned file, so closing that file leaves
	// stdin open.
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return stdin, func() {}
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return stdin, func() {}
	}
	polled := os.NewFile(uintptr(fd), f.Name())
	return polled, func() {
		polled.Close()
		_ = syscall.SetNonblock(int(f.Fd()), false)
	}
}
