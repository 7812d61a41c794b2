package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// migrations are the schema's versions, applied in order, each once. A
// statement's {blob} becomes the dialect's binary type. Times are Unix
// seconds; zero means none.
var migrations = []string{
	`CREATE TABLE clients (
		id TEXT PRIMARY KEY,
		kind TEXT NOT NULL,
		metadata TEXT NOT NULL,
		secret_hash TEXT NOT NULL DEFAULT '',
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL DEFAULT 0
	);
	CREATE TABLE users (
		id TEXT PRIMARY KEY,
		email TEXT NOT NULL UNIQUE,
		profile TEXT NOT NULL,
		account_uuid TEXT NOT NULL DEFAULT '',
		created_at BIGINT NOT NULL,
		signed_in_at BIGINT NOT NULL,
		last_used_at BIGINT NOT NULL DEFAULT 0
	);
	CREATE TABLE plannr_tokens (
		user_id TEXT PRIMARY KEY,
		sealed {blob} NOT NULL,
		updated_at BIGINT NOT NULL
	);
	CREATE TABLE consents (
		user_id TEXT NOT NULL,
		client_id TEXT NOT NULL,
		granted_at BIGINT NOT NULL,
		PRIMARY KEY (user_id, client_id)
	);
	CREATE TABLE pending (
		id TEXT PRIMARY KEY,
		sealed {blob} NOT NULL,
		expires_at BIGINT NOT NULL
	);
	CREATE TABLE codes (
		hash TEXT PRIMARY KEY,
		client_id TEXT NOT NULL,
		user_id TEXT NOT NULL,
		redirect_uri TEXT NOT NULL,
		challenge TEXT NOT NULL,
		resource TEXT NOT NULL,
		scope TEXT NOT NULL,
		family_id TEXT NOT NULL,
		expires_at BIGINT NOT NULL,
		used_at BIGINT NOT NULL DEFAULT 0
	);
	CREATE TABLE families (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL,
		client_id TEXT NOT NULL,
		resource TEXT NOT NULL,
		scope TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		last_used_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		revoked_at BIGINT NOT NULL DEFAULT 0
	);
	CREATE INDEX families_user ON families (user_id);
	CREATE TABLE tokens (
		hash TEXT PRIMARY KEY,
		family_id TEXT NOT NULL,
		kind TEXT NOT NULL,
		expires_at BIGINT NOT NULL,
		used_at BIGINT NOT NULL DEFAULT 0
	);
	CREATE INDEX tokens_family ON tokens (family_id);`,
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations) }

// migrate applies the migrations the database lacks, under the dialect's
// migration lock, so that replicas starting together apply each once. It
// returns how many it applied. A database of a newer schema is refused.
func (s *sqlStore) migrate(ctx context.Context) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("migrating %s: %w", s.Describe(), err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.d.migrationLock != "" {
		if _, err := tx.ExecContext(ctx, s.d.migrationLock); err != nil {
			return 0, fmt.Errorf("migrating %s: taking the migration lock: %w", s.Describe(), err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("migrating %s: %w", s.Describe(), err)
	}
	var have sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&have); err != nil {
		return 0, fmt.Errorf("migrating %s: %w", s.Describe(), err)
	}
	if int(have.Int64) > len(migrations) {
		return 0, fmt.Errorf("the store %s has schema version %d, newer than this plannr-mcp knows (%d): upgrade plannr-mcp", s.Describe(), have.Int64, len(migrations))
	}
	applied := 0
	for v := int(have.Int64) + 1; v <= len(migrations); v++ {
		for _, stmt := range strings.Split(migrations[v-1], ";") {
			if stmt = strings.TrimSpace(stmt); stmt == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, strings.ReplaceAll(stmt, "{blob}", s.d.blob)); err != nil {
				return 0, fmt.Errorf("migrating %s to version %d: %w", s.Describe(), v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, v, time.Now().Unix()); err != nil {
			return 0, fmt.Errorf("migrating %s to version %d: %w", s.Describe(), v, err)
		}
		applied++
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("migrating %s: %w", s.Describe(), err)
	}
	return applied, nil
}
