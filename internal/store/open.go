package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	// The PostgreSQL driver, pgx, as database/sql's "pgx".
	_ "github.com/jackc/pgx/v5/stdlib"
	// The pure-Go SQLite driver, as database/sql's "sqlite": the binary
	// stays free of cgo.
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultFileName is the SQLite store's file in the configuration directory.
const DefaultFileName = "plannr-mcp.db"

// Connections a process keeps to its database: queries are short, and a
// person's lock on PostgreSQL holds one more for the time of a refresh.
const (
	sqliteConns   = 8
	postgresConns = 16
)

// IsPostgres reports whether spec names a PostgreSQL database.
func IsPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// Open opens the store spec names, a postgres:// URL or a SQLite file
// (a path, or sqlite:PATH), and applies the migrations it lacks. It returns
// how many migrations it applied.
func Open(ctx context.Context, spec string, keys *Keyring) (Store, int, error) {
	if keys == nil {
		return nil, 0, errors.New("store: a keyring is required")
	}
	var (
		s   *sqlStore
		err error
	)
	if IsPostgres(spec) {
		s, err = openPostgres(ctx, spec)
	} else {
		s, err = openSQLite(strings.TrimPrefix(spec, "sqlite:"))
	}
	if err != nil {
		return nil, 0, err
	}
	s.keys = keys
	applied, err := s.migrateWhenFree(ctx)
	if err == nil {
		s.tokenStmt, err = s.db.PrepareContext(ctx, tokenQuery)
	}
	if err != nil {
		s.db.Close()
		return nil, 0, err
	}
	return s, applied, nil
}

// busyWait bounds how long Open waits for a SQLite file that other
// processes are opening too.
const busyWait = 10 * time.Second

// migrateWhenFree is migrate, tried again while SQLite answers that the
// file is busy. Processes that start together contend for a new file
// while one of them turns it to WAL, and there SQLite returns SQLITE_BUSY
// at once instead of waiting on its busy timeout.
func (s *sqlStore) migrateWhenFree(ctx context.Context) (int, error) {
	deadline := time.Now().Add(busyWait)
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 200*time.Millisecond) {
		applied, err := s.migrate(ctx)
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return applied, err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Redact returns spec without a password, for messages and logs.
func Redact(spec string) string {
	if !IsPostgres(spec) {
		return strings.TrimPrefix(spec, "sqlite:")
	}
	u, err := url.Parse(spec)
	if err != nil {
		return "postgres://(unreadable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Password returns the password spec carries, if any, so that the caller
// can treat it as a secret.
func Password(spec string) string {
	if !IsPostgres(spec) {
		return ""
	}
	u, err := url.Parse(spec)
	if err != nil {
		return ""
	}
	if p, ok := u.User.Password(); ok {
		return p
	}
	return u.Query().Get("password")
}

// openSQLite opens (creating) the SQLite file at path: WAL, a busy timeout
// so that processes wait for each other's writes, and BEGIN IMMEDIATE
// transactions, which serialize writers from the start. The directory is
// private (0700) and the file too (0600). A person's lock is a lock file
// beside the database.
func openSQLite(path string) (*sqlStore, error) {
	if path == "" {
		return nil, errors.New("store: no SQLite file named")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: creating %s: %w", dir, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	f.Close()
	dsn := "file:" + url.PathEscape(path) + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	// Connections are kept rather than opened per burst of requests: an
	// SQLite connection is cheap to keep and costly to open (its pragmas,
	// its prepared statements).
	db.SetMaxOpenConns(sqliteConns)
	db.SetMaxIdleConns(sqliteConns)
	locks := filepath.Join(dir, "locks")
	return &sqlStore{db: db, desc: path, d: dialect{
		name: "sqlite",
		blob: "BLOB",
		lockUser: func(ctx context.Context, userID string) (func(), error) {
			if err := os.MkdirAll(locks, 0o700); err != nil {
				return nil, err
			}
			sum := sha256.Sum256([]byte(userID))
			fl := flock.New(filepath.Join(locks, hex.EncodeToString(sum[:12])+".lock"), flock.SetPermissions(0o600))
			ok, err := fl.TryLockContext(ctx, 20*time.Millisecond)
			if err == nil && !ok {
				err = errors.New("not acquired")
			}
			if err != nil {
				_ = fl.Close()
				return nil, err
			}
			return func() { _ = fl.Unlock() }, nil
		},
	}}, nil
}

// openPostgres connects to PostgreSQL. A person's lock is a session-level
// advisory lock held on a connection of its own: PostgreSQL releases it
// when the connection ends, so a replica that dies holding it frees it.
func openPostgres(ctx context.Context, spec string) (*sqlStore, error) {
	desc := Redact(spec)
	db, err := sql.Open("pgx", spec)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", desc, err)
	}
	db.SetMaxOpenConns(postgresConns)
	db.SetMaxIdleConns(postgresConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: connecting: %w", desc, err)
	}
	return &sqlStore{db: db, desc: desc, d: dialect{
		name:          "postgres",
		blob:          "BYTEA",
		migrationLock: `SELECT pg_advisory_xact_lock(7140117325023141888)`,
		lockUser: func(ctx context.Context, userID string) (func(), error) {
			sum := sha256.Sum256([]byte("plannr-mcp user lock " + userID))
			key := int64(binary.BigEndian.Uint64(sum[:8]))
			conn, err := db.Conn(ctx)
			if err != nil {
				return nil, err
			}
			if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
				discard(conn)
				return nil, err
			}
			return func() {
				uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
					discard(conn) // closing the connection releases the lock
					return
				}
				conn.Close()
			}, nil
		},
	}}, nil
}

// discard closes conn for good rather than returning it to the pool: a
// connection whose lock request was cut off may hold the lock all the same.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}
