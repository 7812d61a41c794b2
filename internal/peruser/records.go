// Package peruser gives every person who signed in through the remote
// mode's authorization server their own Plannr access: their Plannr tokens
// in the store, refreshed with auth.Source's discipline under a lock that
// holds across replicas, their own account and their own rate limiter.
package peruser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
)

// records is one person's Plannr login in the store, as an
// auth.RecordStore. The client secret is plannr-mcp's own, from its
// configuration: it is added on load and never stored with the person.
type records struct {
	st           store.Store
	userID       string
	clientSecret string
}

// Load reads and decrypts the person's login.
func (r records) Load(ctx context.Context) (*auth.Record, error) {
	data, err := r.st.PlannrTokens(ctx, r.userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrSignInRequired, auth.ErrNotLoggedIn)
	}
	if err != nil {
		return nil, err
	}
	var rec auth.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("the stored Plannr login of %s is unreadable: %w", r.userID, err)
	}
	rec.ClientSecret = r.clientSecret
	return &rec, nil
}

// Save encrypts and stores the person's login, without the client secret.
func (r records) Save(ctx context.Context, rec *auth.Record) error {
	return save(ctx, r.st, r.userID, rec)
}

// Lock takes the person's lock.
func (r records) Lock(ctx context.Context) (func(), error) { return r.st.LockUser(ctx, r.userID) }

// String names the login in logs.
func (r records) String() string { return "the stored Plannr login of " + r.userID }

func save(ctx context.Context, st store.Store, userID string, rec *auth.Record) error {
	c := *rec
	c.ClientSecret = ""
	data, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	return st.SavePlannrTokens(ctx, userID, data, time.Now())
}

// SaveLogin stores the login a person just made, under their lock, so
// that no refresh in progress elsewhere overwrites it.
func SaveLogin(ctx context.Context, st store.Store, userID string, rec *auth.Record) error {
	lctx, cancel := context.WithTimeout(ctx, auth.DefaultLockTimeout)
	defer cancel()
	unlock, err := st.LockUser(lctx, userID)
	if err != nil {
		return fmt.Errorf("saving the Plannr login: %w", err)
	}
	defer unlock()
	return save(ctx, st, userID, rec)
}
