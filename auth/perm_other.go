//go:build !unix && !windows

package auth

import "io/fs"

// checkOwner accepts every file: file ownership is not checked on this
// platform, where the user's configuration directory is private already.
func checkOwner(string, fs.FileInfo) error { return nil }

// syncDir does nothing: directories cannot be synced on this platform.
func syncDir(string) {}

// makePrivate does nothing: the directory's mode, set when it is made, is
// all there is.
func makePrivate(string) error { return nil }
