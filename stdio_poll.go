//go:build unix

package main

import (
	"io"
	"os"
	"runtime"
	"syscall"
)

// pollStdin prepares this process to serve one MCP client over its
// standard input, when stdin is the pipe or socket an MCP client launches
// the server with. It returns the reader to serve from and a function that
// undoes the changes; anything else (a terminal, a file, a reader in a
// test, or a socket that is stdout as well) is returned as it is.
//
// A stdio server spends almost all of its life waiting: for the client's
// next line, then for Plannr's answer. Go reads a blocking pipe on a thread
// parked in read(2), and with several Ps every hand-off between that
// thread, the request's goroutine and the HTTP client's goroutines wakes
// another thread; on a small machine those wake-ups cost more CPU time than
// the call's own work. So stdin is made non-blocking and handed to the
// runtime's poller, which waits on it in the same epoll call as on Plannr's
// connection, and the runtime is held to one P (unless GOMAXPROCS says
// otherwise): the whole call then runs on one thread, with no wake-ups
// between threads. One client's calls wait on Plannr, not on the CPU, and a
// long computation is still preempted, so one P costs no concurrency that
// matters; the HTTP transport, which serves many clients, is not changed.
func pollStdin(stdin io.Reader, stdout io.Writer, getenv func(string) string) (io.Reader, func()) {
	f, ok := stdin.(*os.File)
	if !ok {
		return stdin, func() {}
	}
	info, err := f.Stat()
	if err != nil || info.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return stdin, func() {}
	}
	// A socket serving as both stdin and stdout would become non-blocking
	// for writes too, which os.Stdout does not expect.
	if out, ok := stdout.(*os.File); ok {
		if outInfo, err := out.Stat(); err != nil || os.SameFile(info, outInfo) {
			return stdin, func() {}
		}
	}
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	// O_NONBLOCK belongs to the open pipe or socket, which only this
	// process reads, and is cleared again on the way out. The duplicate descriptor belongs
	// to the returned file, so closing that file leaves stdin open.
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
