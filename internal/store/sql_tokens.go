package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

func (s *sqlStore) PutCode(ctx context.Context, c Code) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO codes (hash, client_id, user_id, redirect_uri, challenge, resource, scope, family_id, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		c.Hash, c.ClientID, c.UserID, c.RedirectURI, c.Challenge, c.Resource, c.Scope, c.FamilyID, unix(c.ExpiresAt))
	return s.wrap("saving an authorization code", err)
}

func (s *sqlStore) UseCode(ctx context.Context, hash string, now time.Time) (Code, error) {
	// One UPDATE claims the code: of two requests racing with it, one
	// changes the row and the other finds it used.
	res, err := s.db.ExecContext(ctx, `UPDATE codes SET used_at = $2 WHERE hash = $1 AND used_at = 0 AND expires_at > $2`, hash, max(unix(now), 1))
	if err != nil {
		return Code{}, s.wrap("using an authorization code", err)
	}
	claimed, err := res.RowsAffected()
	if err != nil {
		return Code{}, s.wrap("using an authorization code", err)
	}
	c := Code{Hash: hash}
	var expires, used int64
	err = s.db.QueryRowContext(ctx, `SELECT client_id, user_id, redirect_uri, challenge, resource, scope, family_id, expires_at, used_at FROM codes WHERE hash = $1`, hash).
		Scan(&c.ClientID, &c.UserID, &c.RedirectURI, &c.Challenge, &c.Resource, &c.Scope, &c.FamilyID, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return Code{}, ErrNotFound
	}
	if err != nil {
		return Code{}, s.wrap("using an authorization code", err)
	}
	c.ExpiresAt, c.UsedAt = fromUnix(expires), fromUnix(used)
	switch {
	case claimed == 1:
		return c, nil
	case used != 0:
		return c, ErrUsed
	default:
		return Code{}, ErrNotFound // expired
	}
}

func (s *sqlStore) PutFamily(ctx context.Context, f Family) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO families (id, user_id, client_id, resource, scope, created_at, last_used_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
		ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
		f.ID, f.UserID, f.ClientID, f.Resource, f.Scope, unix(f.CreatedAt), unix(f.ExpiresAt))
	return s.wrap("saving a token family", err)
}

func (s *sqlStore) PutToken(ctx context.Context, t Token) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens (hash, family_id, kind, expires_at) VALUES ($1, $2, $3, $4)`,
		t.Hash, t.FamilyID, t.Kind, unix(t.ExpiresAt))
	return s.wrap("saving a token", err)
}

const tokenQuery = `SELECT t.family_id, t.kind, t.expires_at, t.used_at,
	f.user_id, f.client_id, f.resource, f.scope, f.created_at, f.last_used_at, f.expires_at, f.revoked_at, COALESCE(u.email, ''), COALESCE(u.account_uuid, '')
	FROM tokens t JOIN families f ON f.id = t.family_id LEFT JOIN users u ON u.id = f.user_id WHERE t.hash = $1`

func (s *sqlStore) Token(ctx context.Context, hash string) (Token, Family, error) {
	t, f, err := scanToken(s.tokenStmt.QueryRowContext(ctx, hash), hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, Family{}, ErrNotFound
	}
	return t, f, s.wrap("reading a token", err)
}

func scanToken(row *sql.Row, hash string) (Token, Family, error) {
	t := Token{Hash: hash}
	var f Family
	var texp, tused, fcreated, fused, fexp, frevoked int64
	err := row.Scan(&t.FamilyID, &t.Kind, &texp, &tused,
		&f.UserID, &f.ClientID, &f.Resource, &f.Scope, &fcreated, &fused, &fexp, &frevoked, &f.Email, &f.AccountUUID)
	if err != nil {
		return Token{}, Family{}, err
	}
	t.ExpiresAt, t.UsedAt = fromUnix(texp), fromUnix(tused)
	f.ID = t.FamilyID
	f.CreatedAt, f.LastUsedAt, f.ExpiresAt, f.RevokedAt = fromUnix(fcreated), fromUnix(fused), fromUnix(fexp), fromUnix(frevoked)
	return t, f, nil
}

func (s *sqlStore) UseRefresh(ctx context.Context, hash string, now time.Time) (Token, Family, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE tokens SET used_at = $2 WHERE hash = $1 AND kind = 'refresh' AND used_at = 0`, hash, max(unix(now), 1))
	if err != nil {
		return Token{}, Family{}, s.wrap("using a refresh token", err)
	}
	claimed, err := res.RowsAffected()
	if err != nil {
		return Token{}, Family{}, s.wrap("using a refresh token", err)
	}
	t, f, err := s.Token(ctx, hash)
	switch {
	case err != nil:
		return Token{}, Family{}, err
	case t.Kind != RefreshToken:
		return Token{}, Family{}, ErrNotFound
	case claimed != 1:
		return t, f, ErrUsed
	}
	return t, f, nil
}

func (s *sqlStore) RevokeFamily(ctx context.Context, familyID string, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("revoking a token family", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `UPDATE families SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0`, familyID, max(unix(at), 1)); err != nil {
		return s.wrap("revoking a token family", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE family_id = $1 AND kind = 'access'`, familyID); err != nil {
		return s.wrap("revoking a token family", err)
	}
	return s.wrap("revoking a token family", tx.Commit())
}

func (s *sqlStore) TouchFamily(ctx context.Context, familyID, userID string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE families SET last_used_at = $2 WHERE id = $1`, familyID, unix(at)); err != nil {
		return s.wrap("recording a use", err)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE users SET last_used_at = $2 WHERE id = $1`, userID, unix(at))
	return s.wrap("recording a use", err)
}

// revokedRetention is how long a revoked family is kept, so that a refresh
// token of it presented later is still recognised as reuse.
const revokedRetention = 7 * 24 * time.Hour

// unusedClientRetention is how long a dynamically registered client with
// no grant is kept: registration is open to anyone, as MCP has it, so
// clients that never (or no longer) hold a grant do not pile up. One that
// comes back registers again.
const unusedClientRetention = 30 * 24 * time.Hour

func (s *sqlStore) Prune(ctx context.Context, now time.Time) (int64, error) {
	n := unix(now)
	var total int64
	for _, step := range []struct {
		q    string
		args []any
	}{
		{`DELETE FROM codes WHERE expires_at <= $1`, []any{n}},
		{`DELETE FROM pending WHERE expires_at <= $1`, []any{n}},
		{`DELETE FROM tokens WHERE expires_at <= $1`, []any{n}},
		{`DELETE FROM families WHERE expires_at <= $1 OR (revoked_at > 0 AND revoked_at <= $2)`, []any{n, n - int64(revokedRetention/time.Second)}},
		{`DELETE FROM tokens WHERE family_id NOT IN (SELECT id FROM families)`, nil},
		{`DELETE FROM clients WHERE expires_at > 0 AND expires_at <= $1`, []any{n}},
		{`DELETE FROM clients WHERE kind = 'dcr' AND created_at <= $1
			AND id NOT IN (SELECT client_id FROM families) AND id NOT IN (SELECT client_id FROM codes)`, []any{n - int64(unusedClientRetention/time.Second)}},
	} {
		res, err := s.db.ExecContext(ctx, step.q, step.args...)
		if err != nil {
			return total, s.wrap("pruning", err)
		}
		if k, err := res.RowsAffected(); err == nil {
			total += k
		}
	}
	return total, nil
}

func (s *sqlStore) Rekey(ctx context.Context) (int64, error) {
	var total int64
	for _, t := range []struct{ table, key, aad string }{
		{"plannr_tokens", "user_id", "plannr_tokens:"},
		{"pending", "id", "pending:"},
	} {
		rows, err := s.db.QueryContext(ctx, `SELECT `+t.key+`, sealed FROM `+t.table)
		if err != nil {
			return total, s.wrap("re-encrypting", err)
		}
		type row struct {
			key    string
			sealed []byte
		}
		var stale []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.key, &r.sealed); err != nil {
				rows.Close()
				return total, s.wrap("re-encrypting", err)
			}
			if !s.keys.isCurrent(r.sealed) {
				stale = append(stale, r)
			}
		}
		rows.Close()
		for _, r := range stale {
			plain, err := s.keys.Open(r.sealed, []byte(t.aad+r.key))
			if err != nil {
				return total, s.wrap("re-encrypting "+t.table, err)
			}
			if _, err := s.db.ExecContext(ctx, `UPDATE `+t.table+` SET sealed = $2 WHERE `+t.key+` = $1 AND sealed = $3`,
				r.key, s.keys.Seal(plain, []byte(t.aad+r.key)), r.sealed); err != nil {
				return total, s.wrap("re-encrypting", err)
			}
			total++
		}
	}
	return total, nil
}
