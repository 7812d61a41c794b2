package authserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/store"
)

// Principal is who an MCP request acts for: the person, through a client's
// grant.
type Principal struct {
	// UserID is plannr-mcp's id of the person.
	UserID string
	// Email is their Plannr e-mail address.
	Email string
	// AccountUUID is the Plannr account their calls act for.
	AccountUUID string
	// ClientID is the MCP client the grant was made to.
	ClientID string
	// FamilyID is the grant.
	FamilyID string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal a request's context carries.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// ErrInvalidToken is why a bearer token was refused; its message says why
// and never contains the token.
var ErrInvalidToken = errors.New("invalid token")

func invalid(why string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, why) }

// Verify checks an access token presented to the MCP endpoint: issued by
// this server, for this resource (its audience), not expired, its grant
// not revoked. It returns ctx with the principal, and the subject that
// sessions are bound to.
func (s *Server) Verify(ctx context.Context, token string) (context.Context, string, error) {
	if !strings.HasPrefix(token, prefixAccess) {
		return ctx, "", invalid("not an access token of this server")
	}
	tok, fam, err := s.store.Token(ctx, hash(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ctx, "", invalid("unknown, or revoked")
	case err != nil:
		return ctx, "", err
	case tok.Kind != store.AccessToken:
		return ctx, "", invalid("not an access token")
	case !fam.RevokedAt.IsZero():
		return ctx, "", invalid("revoked")
	case fam.Resource != s.resource:
		return ctx, "", invalid("issued for another resource")
	}
	now := s.cfg.Now()
	if !now.Before(tok.ExpiresAt) {
		return ctx, "", invalid("expired")
	}
	s.touch(ctx, fam)
	p := Principal{UserID: fam.UserID, Email: fam.Email, AccountUUID: fam.AccountUUID, ClientID: fam.ClientID, FamilyID: fam.ID}
	return WithPrincipal(ctx, p), "user:" + fam.UserID, nil
}

// touch records a grant's use, at most once a minute per grant and process.
func (s *Server) touch(ctx context.Context, fam store.Family) {
	now := s.cfg.Now()
	s.mu.Lock()
	last, seen := s.touched[fam.ID]
	due := !seen || now.Sub(last) >= touchEvery
	if due {
		s.touched[fam.ID] = now
		if len(s.touched) > 100_000 {
			clear(s.touched)
		}
	}
	s.mu.Unlock()
	if due {
		// Off the request's path: a write may wait for another process's.
		go func() {
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.store.TouchFamily(tctx, fam.ID, fam.UserID, now); err != nil {
				s.log.Warn("recording a grant's use", "error", err)
			}
		}()
	}
}

// Refused reports whether an error of Verify refuses the token, rather
// than the store failing.
func (s *Server) Refused(err error) bool { return errors.Is(err, ErrInvalidToken) }

// Challenge is the WWW-Authenticate value of a 401: where the resource's
// metadata is (RFC 9728), and, for a token that was refused, why.
func (s *Server) Challenge(err error) string {
	v := `Bearer resource_metadata="` + s.ResourceMetadataURL() + `", scope="` + Scope + `"`
	if errors.Is(err, ErrInvalidToken) {
		v += `, error="invalid_token", error_description="` + strings.TrimPrefix(err.Error(), ErrInvalidToken.Error()+": ") + `"`
	}
	return v
}
