//go:build !unix

package main

import "io"

// pollStdin leaves stdin as it is where there is no poller for pipes to
// hand it to.
func pollStdin(stdin io.Reader, _ io.Writer, _ func(string) string) (io.Reader, func()) {
	return stdin, func() {}
}
