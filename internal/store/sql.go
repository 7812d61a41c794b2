package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// dialect is what differs between the SQL databases.
type dialect struct {
	name string
	// blob is the binary column type.
	blob string
	// migrationLock, run first in the migration transaction, keeps two
	// processes from migrating at once; empty where the transaction
	// itself does (SQLite's BEGIN IMMEDIATE).
	migrationLock string
	// lockUser takes a person's lock.
	lockUser func(ctx context.Context, userID string) (func(), error)
}

// sqlStore is the Store on database/sql; placeholders are $1, $2, ...,
// which both SQLite and PostgreSQL read.
type sqlStore struct {
	db   *sql.DB
	d    dialect
	keys *Keyring
	desc string
	// tokenStmt is Token's query, prepared once: it runs on every MCP
	// request.
	tokenStmt *sql.Stmt
}

// Describe names the store without a password.
func (s *sqlStore) Describe() string { return s.desc }

// Close releases the database.
func (s *sqlStore) Close() error {
	if s.tokenStmt != nil {
		s.tokenStmt.Close()
	}
	return s.db.Close()
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// wrap names the store and the operation in an error, and keeps
// ErrNotFound and ErrUsed findable.
func (s *sqlStore) wrap(op string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUsed) {
		return err
	}
	return fmt.Errorf("store %s: %s: %w", s.desc, op, err)
}

func (s *sqlStore) PutClient(ctx context.Context, c Client) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO clients (id, kind, metadata, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, metadata = excluded.metadata, secret_hash = excluded.secret_hash, expires_at = excluded.expires_at`,
		c.ID, c.Kind, string(c.Metadata), c.SecretHash, unix(c.CreatedAt), unix(c.ExpiresAt))
	return s.wrap("saving a client", err)
}

func (s *sqlStore) Client(ctx context.Context, id string) (Client, error) {
	c := Client{ID: id}
	var meta string
	var created, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT kind, metadata, secret_hash, created_at, expires_at FROM clients WHERE id = $1`, id).
		Scan(&c.Kind, &meta, &c.SecretHash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Client{}, ErrNotFound
	}
	if err != nil {
		return Client{}, s.wrap("reading a client", err)
	}
	c.Metadata, c.CreatedAt, c.ExpiresAt = []byte(meta), fromUnix(created), fromUnix(expires)
	if !c.ExpiresAt.IsZero() && !time.Now().Before(c.ExpiresAt) {
		return Client{}, ErrNotFound
	}
	return c, nil
}

func (s *sqlStore) SaveUser(ctx context.Context, u User) (User, error) {
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	if u.Email == "" {
		return User{}, errors.New("store: a user needs an e-mail address")
	}
	id := "u_" + strings.ToLower(rand.Text())
	err := s.db.QueryRowContext(ctx, `INSERT INTO users (id, email, profile, account_uuid, created_at, signed_in_at) VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (email) DO UPDATE SET profile = excluded.profile, signed_in_at = excluded.signed_in_at,
			account_uuid = CASE WHEN users.account_uuid = '' THEN excluded.account_uuid ELSE users.account_uuid END
		RETURNING id, account_uuid, created_at`,
		id, u.Email, string(u.Profile), u.AccountUUID, unix(u.SignedInAt)).Scan(&u.ID, &u.AccountUUID, new(int64))
	if err != nil {
		return User{}, s.wrap("saving a user", err)
	}
	return s.User(ctx, u.ID)
}

func (s *sqlStore) SetAccount(ctx context.Context, userID, accountUUID string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET account_uuid = $2 WHERE id = $1`, userID, accountUUID)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
	}
	return s.wrap("choosing an account", err)
}

const userColumns = `id, email, profile, account_uuid, created_at, signed_in_at, last_used_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var profile string
	var created, signed, used int64
	if err := row.Scan(&u.ID, &u.Email, &profile, &u.AccountUUID, &created, &signed, &used); err != nil {
		return User{}, err
	}
	u.Profile, u.CreatedAt, u.SignedInAt, u.LastUsedAt = []byte(profile), fromUnix(created), fromUnix(signed), fromUnix(used)
	return u, nil
}

func (s *sqlStore) User(ctx context.Context, idOrEmail string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 OR email = $2`,
		idOrEmail, strings.ToLower(strings.TrimSpace(idOrEmail))))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, s.wrap("reading a user", err)
}

func (s *sqlStore) Users(ctx context.Context) ([]UserSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY email`)
	if err != nil {
		return nil, s.wrap("listing users", err)
	}
	var out []UserSummary
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, s.wrap("listing users", err)
		}
		out = append(out, UserSummary{User: u})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap("listing users", err)
	}
	now := time.Now().Unix()
	for i := range out {
		u := &out[i]
		grants, err := s.db.QueryContext(ctx, `SELECT client_id, MAX(last_used_at) FROM families WHERE user_id = $1 AND revoked_at = 0 AND expires_at > $2 GROUP BY client_id ORDER BY client_id`, u.ID, now)
		if err != nil {
			return nil, s.wrap("listing grants", err)
		}
		for grants.Next() {
			var client string
			var used int64
			if err := grants.Scan(&client, &used); err != nil {
				grants.Close()
				return nil, s.wrap("listing grants", err)
			}
			u.Clients = append(u.Clients, client)
			u.Grants++
		}
		grants.Close()
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM plannr_tokens WHERE user_id = $1`, u.ID).Scan(&n); err != nil {
			return nil, s.wrap("listing users", err)
		}
		u.HasPlannrTokens = n > 0
	}
	return out, nil
}

func (s *sqlStore) Forget(ctx context.Context, userID string, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("forgetting a user", err)
	}
	defer func() { _ = tx.Rollback() }()
	steps := []struct {
		q    string
		args []any
	}{
		{`UPDATE families SET revoked_at = $2 WHERE user_id = $1 AND revoked_at = 0`, []any{userID, max(unix(at), 1)}},
		{`DELETE FROM tokens WHERE family_id IN (SELECT id FROM families WHERE user_id = $1)`, []any{userID}},
		{`DELETE FROM codes WHERE user_id = $1`, []any{userID}},
		{`DELETE FROM plannr_tokens WHERE user_id = $1`, []any{userID}},
		{`DELETE FROM consents WHERE user_id = $1`, []any{userID}},
	}
	for _, step := range steps {
		if _, err := tx.ExecContext(ctx, step.q, step.args...); err != nil {
			return s.wrap("forgetting a user", err)
		}
	}
	return s.wrap("forgetting a user", tx.Commit())
}

func (s *sqlStore) PlannrTokens(ctx context.Context, userID string) ([]byte, error) {
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT sealed FROM plannr_tokens WHERE user_id = $1`, userID).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, s.wrap("reading Plannr tokens", err)
	}
	plain, err := s.keys.Open(sealed, []byte("plannr_tokens:"+userID))
	return plain, s.wrap("reading Plannr tokens", err)
}

func (s *sqlStore) SavePlannrTokens(ctx context.Context, userID string, plaintext []byte, at time.Time) error {
	sealed := s.keys.Seal(plaintext, []byte("plannr_tokens:"+userID))
	_, err := s.db.ExecContext(ctx, `INSERT INTO plannr_tokens (user_id, sealed, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`, userID, sealed, unix(at))
	return s.wrap("saving Plannr tokens", err)
}

func (s *sqlStore) LockUser(ctx context.Context, userID string) (func(), error) {
	unlock, err := s.d.lockUser(ctx, userID)
	return unlock, s.wrap("taking a person's lock", err)
}

func (s *sqlStore) Consented(ctx context.Context, userID, clientID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID).Scan(&n)
	return n > 0, s.wrap("reading a consent", err)
}

func (s *sqlStore) PutConsent(ctx context.Context, userID, clientID string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO consents (user_id, client_id, granted_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, client_id) DO UPDATE SET granted_at = excluded.granted_at`, userID, clientID, unix(at))
	return s.wrap("saving a consent", err)
}

func (s *sqlStore) PutPending(ctx context.Context, id string, data []byte, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO pending (id, sealed, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at`,
		id, s.keys.Seal(data, []byte("pending:"+id)), unix(expires))
	return s.wrap("saving an authorization request", err)
}

func (s *sqlStore) Pending(ctx context.Context, id string, now time.Time) ([]byte, error) {
	return s.pending(ctx, `SELECT sealed FROM pending WHERE id = $1 AND expires_at > $2`, id, now)
}

func (s *sqlStore) TakePending(ctx context.Context, id string, now time.Time) ([]byte, error) {
	return s.pending(ctx, `DELETE FROM pending WHERE id = $1 AND expires_at > $2 RETURNING sealed`, id, now)
}

func (s *sqlStore) pending(ctx context.Context, q, id string, now time.Time) ([]byte, error) {
	var sealed []byte
	err := s.db.QueryRowContext(ctx, q, id, unix(now)).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, s.wrap("reading an authorization request", err)
	}
	plain, err := s.keys.Open(sealed, []byte("pending:"+id))
	return plain, s.wrap("reading an authorization request", err)
}
