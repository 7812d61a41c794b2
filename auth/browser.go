package auth

import (
	"context"
	"errors"
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
		var cmd *exec.Cmd
		switch runtime.GOOS {
		case "darwin":
			cmd = exec.Command("open", url)
		case "windows":
			cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
		default:
			if !graphical {
				return errors.New("no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set)")
			}
			cmd = exec.Command("xdg-open", url)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		// The opener hands the URL to the browser and exits; reap it.
		go func() { _ = cmd.Wait() }()
		return nil
	}
}
