//go:build !unix

package stdio

import "io"

// pollStdin leaves stdin as it is where there is no poller for pipes to
// hand it to.
func pollStdin(stdin io.Reader, _ io.Writer) (io.Reader, func()) {
	return stdin, func() {}
}

// Pollable reports false: there is no poller for pipes to hand stdin to.
func Pollable(io.Reader, io.Writer) bool { return false }
