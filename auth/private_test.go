package auth

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestPrivateSDDL(t *testing.T) {
	const sid = "S-1-5-21-1004336348-1177238915-682003330-1001"
	want := "D:P(A;OICI;FA;;;S-1-5-21-1004336348-1177238915-682003330-1001)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
	if got := privateSDDL(sid); got != want {
		t.Errorf("privateSDDL = %s, want %s", got, want)
	}
}

func TestInUseElsewhere(t *testing.T) {
	linkErr := func(errno syscall.Errno) error {
		return &os.LinkError{Op: "rename", Old: "a", New: "b", Err: errno}
	}
	cases := []struct {
		goos string
		err  error
		want bool
	}{
		{"windows", linkErr(errorAccessDenied), true},
		{"windows", linkErr(errorSharingViolation), true},
		{"windows", &os.PathError{Op: "remove", Path: "a", Err: syscall.Errno(errorLockViolation)}, true},
		{"windows", linkErr(2), false}, // ERROR_FILE_NOT_FOUND
		{"windows", errors.New("no errno"), false},
		{"linux", linkErr(syscall.EACCES), false},
		{"darwin", linkErr(errorSharingViolation), false},
	}
	for _, tc := range cases {
		if got := inUseElsewhere(tc.goos, tc.err); got != tc.want {
			t.Errorf("inUseElsewhere(%s, %v) = %v, want %v", tc.goos, tc.err, got, tc.want)
		}
	}
}

func TestRetryInUse(t *testing.T) {
	inUse := errors.New("in use")
	cases := []struct {
		name      string
		failures  int // how many calls fail with inUse first
		other     error
		wantCalls int
		wantErr   error
	}{
		{name: "at once", failures: 0, wantCalls: 1},
		{name: "after three", failures: 3, wantCalls: 4},
		{name: "another error is not retried", other: errors.New("disk full"), wantCalls: 1},
		{name: "gives up", failures: 1000, wantCalls: inUseRetries + 1, wantErr: inUse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			var slept time.Duration
			err := retryInUse(func() error {
				calls++
				switch {
				case tc.other != nil:
					return tc.other
				case calls <= tc.failures:
					return fmt.Errorf("rename: %w", inUse)
				}
				return nil
			}, func(err error) bool { return errors.Is(err, inUse) }, func(d time.Duration) { slept += d })
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if tc.other != nil && !errors.Is(err, tc.other) || tc.wantErr != nil && !errors.Is(err, tc.wantErr) || tc.other == nil && tc.wantErr == nil && err != nil {
				t.Errorf("err = %v", err)
			}
			if slept != time.Duration(calls-1)*inUseWait {
				t.Errorf("slept %v after %d calls", slept, calls)
			}
		})
	}
}
