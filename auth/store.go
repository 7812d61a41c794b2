package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/gofrs/flock"
)

// File names inside the store's directory.
const (
	loginFileName = "login.json"
	lockFileName  = "login.lock"
	tempPattern   = ".login-*.tmp"
)

// Permissions of the store: only the owner may read or enter it.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// lockRetry is how often a waiting process tries the lock again.
const lockRetry = 20 * time.Millisecond

// DefaultDir is where the login is stored unless configured otherwise:
// plannr-mcp inside the user's configuration directory.
func DefaultDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user's configuration directory: %w", err)
	}
	return filepath.Join(dir, "plannr-mcp"), nil
}

// Store keeps one OAuth2 login in a file that several processes share. The
// directory is private (0700) and the file too (0600); a file or directory
// found with looser permissions is tightened, with a warning. Writes are
// atomic: a crash leaves the previous file or the new one, never a torn or
// empty one.
type Store struct {
	dir    string
	logger *slog.Logger
	// write writes data to the temporary file; tests replace it to
	// simulate a write that fails midway.
	write func(f *os.File, data []byte) error
}

// NewStore returns the store in dir, which is created on the first save.
// Warnings about loosened permissions go to logger; nil discards them.
func NewStore(dir string, logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{
		dir:    dir,
		logger: logger,
		write: func(f *os.File, data []byte) error {
			_, err := f.Write(data)
			return err
		},
	}
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the file that holds the login.
func (s *Store) Path() string { return filepath.Join(s.dir, loginFileName) }

// Exists reports whether a login file is present, without reading it.
func (s *Store) Exists() bool {
	_, err := os.Lstat(s.Path())
	return err == nil
}

// Load reads the stored login. With none stored it returns an error
// wrapping ErrNotLoggedIn.
func (s *Store) Load() (*Record, error) {
	path := s.Path()
	before, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no login stored in %s)", ErrNotLoggedIn, s.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the stored login: %w", err)
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("refusing to read the stored login %s: it is not a regular file (a link?); remove it and run plannr-mcp login", path)
	}
	if err := s.checkPrivate(s.dir, true); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no login stored in %s)", ErrNotLoggedIn, s.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the stored login: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the stored login: %w", err)
	}
	if err := s.checkPrivateFile(f, info); err != nil {
		return nil, err
	}
	var rec Record
	dec := json.NewDecoder(f)
	if err := dec.Decode(&rec); err != nil {
		// The error says where the JSON broke; it never quotes the content.
		return nil, fmt.Errorf("the stored login %s is damaged (%v); run plannr-mcp login to replace it", path, jsonProblem(err))
	}
	switch {
	case rec.Version > recordVersion:
		return nil, fmt.Errorf("the stored login %s was written by a newer plannr-mcp (format %d); upgrade plannr-mcp or run plannr-mcp login", path, rec.Version)
	case rec.AccessToken == "" && rec.RefreshToken == "":
		return nil, fmt.Errorf("the stored login %s holds no token; run plannr-mcp login to replace it", path)
	}
	return &rec, nil
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s has the wrong type", typ.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the file is empty or cut short"
	default:
		return "unreadable JSON"
	}
}

// Save replaces the stored login with rec, atomically: it writes a
// temporary file in the same directory, syncs it to disk and renames it
// over the old one. Callers hold the lock (see Lock), so that no other
// process writes at the same time.
func (s *Store) Save(rec *Record) (err error) {
	if err := s.ensureDir(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the login: %w", err)
	}
	data = append(data, '\n')
	s.removeStaleTemps()
	tmp, err := os.CreateTemp(s.dir, tempPattern)
	if err != nil {
		return fmt.Errorf("saving the login in %s: %w", s.dir, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600 already; say so explicitly, as the
	// file holds secrets.
	if runtime.GOOS != "windows" {
		if err := tmp.Chmod(fileMode); err != nil {
			return fmt.Errorf("saving the login: %w", err)
		}
	}
	if err := s.write(tmp, data); err != nil {
		return fmt.Errorf("saving the login: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("saving the login: flushing %s to disk: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving the login: %w", err)
	}
	// On Windows the rename fails while another process reads the login
	// (see inUseElsewhere); that lasts a moment, so it is retried.
	if err := retryInUse(func() error { return os.Rename(tmp.Name(), s.Path()) }, isInUse, time.Sleep); err != nil {
		return fmt.Errorf("saving the login: %w", err)
	}
	renamed = true
	// Make the rename itself durable. Not every platform can sync a
	// directory; the file's content is already on disk either way.
	syncDir(s.dir)
	return nil
}

// removeStaleTemps deletes temporary files a crashed writer left behind.
// The caller holds the lock, so no other writer's file is in progress.
func (s *Store) removeStaleTemps() {
	stale, _ := filepath.Glob(filepath.Join(s.dir, tempPattern))
	for _, p := range stale {
		_ = os.Remove(p)
	}
}

// Remove deletes the stored login and reports whether there was one. The
// caller holds the lock.
func (s *Store) Remove() (bool, error) {
	err := retryInUse(func() error { return os.Remove(s.Path()) }, isInUse, time.Sleep)
	switch {
	case err == nil:
		syncDir(s.dir)
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("removing the stored login: %w", err)
	}
}

// Lock takes the store's cross-process lock, waiting until ctx ends. It
// guards every refresh and every write: the holder re-reads the login
// before deciding to refresh, so a refresh token is never used twice. The
// lock is released by calling unlock, or by the process's exit.
func (s *Store) Lock(ctx context.Context) (unlock func(), err error) {
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, lockFileName)
	fl := flock.New(path, flock.SetPermissions(fileMode))
	ok, err := fl.TryLockContext(ctx, lockRetry)
	if err == nil && !ok {
		err = errors.New("not acquired")
	}
	if err != nil {
		_ = fl.Close()
		return nil, fmt.Errorf("taking the lock %s: %w", path, err)
	}
	return func() { _ = fl.Unlock() }, nil
}

// ensureDir creates the store's directory, private, or tightens an existing
// one. On Windows it gives the directory a private access list instead.
func (s *Store) ensureDir() error {
	if err := os.MkdirAll(s.dir, dirMode); err != nil {
		return fmt.Errorf("creating %s: %w", s.dir, err)
	}
	if err := makePrivate(s.dir); err != nil {
		// The user's own configuration directory is private already; a
		// directory elsewhere keeps the access list it inherits.
		s.logger.Warn("could not make the login store private to this user", "path", s.dir, "error", err)
	}
	return s.checkPrivate(s.dir, true)
}

// isInUse reports a file operation that another process's open file holds up.
func isInUse(err error) bool { return inUseElsewhere(runtime.GOOS, err) }

// checkPrivate refuses a path owned by another user and tightens one that
// others can read, with a warning.
func (s *Store) checkPrivate(path string, isDir bool) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if err := checkOwner(path, info); err != nil {
		return err
	}
	want := fileMode
	if isDir {
		want = dirMode
	}
	if info.Mode().Perm()&^want != 0 {
		if err := os.Chmod(path, want); err != nil {
			return fmt.Errorf("%s is open to other users (mode %04o) and could not be made private: %w; run chmod %04o %s",
				path, info.Mode().Perm(), err, want, path)
		}
		s.logger.Warn("the login store was open to other users; made it private",
			"path", path, "was", fmt.Sprintf("%04o", info.Mode().Perm()), "now", fmt.Sprintf("%04o", want),
			"advice", "if others could have read the tokens, run plannr-mcp logout and plannr-mcp login")
	}
	return nil
}

// checkPrivateFile is checkPrivate for the open login file.
func (s *Store) checkPrivateFile(f *os.File, info fs.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if err := checkOwner(f.Name(), info); err != nil {
		return err
	}
	if perm := info.Mode().Perm(); perm&^fileMode != 0 {
		if err := f.Chmod(fileMode); err != nil {
			return fmt.Errorf("the stored login %s is readable by other users (mode %04o) and could not be made private: %w; run chmod 600 %s",
				f.Name(), perm, err, f.Name())
		}
		s.logger.Warn("the stored login was readable by other users; made it private",
			"path", f.Name(), "was", fmt.Sprintf("%04o", perm), "now", "0600",
			"advice", "if others could have read the tokens, run plannr-mcp logout and plannr-mcp login")
	}
	return nil
}

// SaveLocked saves rec under the store's lock, waiting for it at most
// DefaultLockTimeout: a new login that no refresh in progress elsewhere
// can overwrite.
func (s *Store) SaveLocked(ctx context.Context, rec *Record) error {
	unlock, err := s.lockWithin(ctx)
	if err != nil {
		return fmt.Errorf("saving the login: %w", err)
	}
	defer unlock()
	return s.Save(rec)
}

// RemoveLocked removes the login under the store's lock, as a logout does;
// it reports whether there was one.
func (s *Store) RemoveLocked(ctx context.Context) (bool, error) {
	unlock, err := s.lockWithin(ctx)
	if err != nil {
		return false, fmt.Errorf("logging out: %w", err)
	}
	defer unlock()
	return s.Remove()
}

func (s *Store) lockWithin(ctx context.Context) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultLockTimeout)
	defer cancel()
	return s.Lock(ctx)
}
