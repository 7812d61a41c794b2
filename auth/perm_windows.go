//go:build windows

package auth

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/windows"
)

// checkOwner accepts every file: on Windows what guards the login is the
// store directory's access list, which makePrivate sets.
func checkOwner(string, fs.FileInfo) error { return nil }

// syncDir does nothing: Windows cannot flush a directory's entries.
func syncDir(string) {}

// makePrivate gives dir an access list of its own instead of the one it
// inherits: full control for the current user, SYSTEM and the
// Administrators, and nobody else (privateSDDL). The files made in dir, the
// login and the lock, inherit it. (Unix modes mean nothing on Windows:
// 0700 and 0600 are not enforced there.)
func makePrivate(dir string) error {
	user, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("finding the current user: %w", err)
	}
	sd, err := windows.SecurityDescriptorFromString(privateSDDL(user.User.Sid.String()))
	if err != nil {
		return fmt.Errorf("building the access list: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("building the access list: %w", err)
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("setting the access list of %s: %w", dir, err)
	}
	return nil
}
