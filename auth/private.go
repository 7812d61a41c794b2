package auth

import (
	"errors"
	"syscall"
	"time"
)

// privateSDDL is the access list, in Windows' SDDL, of a private store
// directory: protected from inheritance (P), full access (FA) for the user
// whose SID is given, for SYSTEM (SY) and for the Administrators (BA),
// inherited by the files and folders in it (OICI). It is the list Windows
// gives a user's own profile folders, and what OpenSSH for Windows asks of
// a private key.
func privateSDDL(userSID string) string {
	return "D:P(A;OICI;FA;;;" + userSID + ")(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
}

// Windows error numbers of a file another process has open.
const (
	errorAccessDenied     = 5  // ERROR_ACCESS_DENIED: replacing or removing a file that is open
	errorSharingViolation = 32 // ERROR_SHARING_VIOLATION
	errorLockViolation    = 33 // ERROR_LOCK_VIOLATION
)

// inUseElsewhere reports, on goos, an error that means another process has
// the file open. Only on Windows does that fail a rename or a remove: Go
// opens files there without FILE_SHARE_DELETE, so replacing the login
// while another plannr-mcp process reads it fails for the moment the read
// takes.
func inUseElsewhere(goos string, err error) bool {
	var errno syscall.Errno
	if goos != "windows" || !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case errorAccessDenied, errorSharingViolation, errorLockViolation:
		return true
	}
	return false
}

// inUseRetries and inUseWait bound the retries of a file operation that
// another process's open file holds up: about a second in all, far longer
// than a read of the login takes.
const (
	inUseRetries = 40
	inUseWait    = 25 * time.Millisecond
)

// retryInUse runs op until it succeeds, fails for another reason than
// inUse, or has been retried inUseRetries times.
func retryInUse(op func() error, inUse func(error) bool, sleep func(time.Duration)) error {
	for i := 0; ; i++ {
		err := op()
		if err == nil || !inUse(err) || i == inUseRetries {
			return err
		}
		sleep(inUseWait)
	}
}
