package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"runtime"
)

// BrowserOpener returns a function that opens a URL in the person's
// browser with the platform's usual command. On Linux and BSD a browser
// needs a graphical session: graphical says whether there is one (DISPLAY
// or WAYLAND_DISPLAY is set). The command's own output is discarded, so it
// never mixes with plannr-mcp's messages.
func BrowserOpener(graphical bool) func(ctx context.Context, url string) error {
	return func(ctx context.Context, url string) error {
		name, args, err := browserCommand(runtime.GOOS, graphical, url)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		cmd := exec.Command(name, args...)
		if err := cmd.Start(); err != nil {
			return err
		}
		// The opener hands the URL to the browser and exits; reap it.
		go func() { _ = cmd.Wait() }()
		return nil
	}
}

// browserCommand is the command that opens rawURL in a browser on goos.
// Only http and https URLs are opened: Windows' URL handler and xdg-open
// would also run a file or start another protocol's program.
//
// On Windows the URL goes to rundll32's URL handler as one argument of the
// command line: no shell (cmd.exe's start) sees it, so the & between query
// parameters needs no quoting.
func browserCommand(goos string, graphical bool, rawURL string) (string, []string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", nil, fmt.Errorf("not opening %q in a browser: only http and https URLs are opened", rawURL)
	}
	switch goos {
	case "darwin":
		return "open", []string{rawURL}, nil
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler", rawURL}, nil
	}
	if !graphical {
		return "", nil, errors.New("no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set)")
	}
	return "xdg-open", []string{rawURL}, nil
}
