//go:build unix

package auth

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses a file or directory that belongs to another user: its
// owner could read or replace the tokens.
func checkOwner(path string, info fs.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("%s belongs to another user (uid %d, you are %d); plannr-mcp only uses a login store you own: remove it or set PLANNR_MCP_CONFIG_DIR to another directory, then run plannr-mcp login",
			path, st.Uid, uid)
	}
	return nil
}

// syncDir flushes a directory's entries, so that a rename in it survives a
// crash. It is best effort.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// makePrivate does nothing more on Unix: the directory's mode is checked
// and tightened by checkPrivate.
func makePrivate(string) error { return nil }
