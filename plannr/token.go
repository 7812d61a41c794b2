package plannr

import (
	"context"
	"errors"

	"golang.org/x/oauth2"
)

// ContextTokenSource is an optional interface of the token source given to
// NewClient. When the source has it, the client asks for each request's
// token with the request's context, so that waiting for a refresh ends when
// the request does.
type ContextTokenSource interface {
	// TokenContext returns a token, as oauth2.TokenSource's Token does.
	TokenContext(ctx context.Context) (*oauth2.Token, error)
}

// Refresher is an optional interface of the token source given to
// NewClient. Plannr can revoke a token before its expiry; when Plannr
// answers 401, the client calls Refresh once with the token it rejected
// and, if Refresh returns another token, sends the request again, once, with
// that token.
type Refresher interface {
	// Refresh returns a token to use instead of rejected: one that another
	// caller already obtained, or a newly refreshed one.
	Refresh(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error)
}

// token asks the source for a token, with ctx when the source takes one.
func (c *Client) token(ctx context.Context) (*oauth2.Token, error) {
	var (
		tok *oauth2.Token
		err error
	)
	if cs, ok := c.source.(ContextTokenSource); ok {
		tok, err = cs.TokenContext(ctx)
	} else {
		tok, err = c.source.Token()
	}
	if err != nil {
		return nil, asCredentialError(err)
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, &CredentialError{Err: errors.New("the token source returned an empty token")}
	}
	return tok, nil
}

// replacement returns a token to use instead of rejected, which Plannr
// answered 401 to, or nil when the source has none to offer.
func (c *Client) replacement(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error) {
	refresher, ok := c.source.(Refresher)
	if !ok {
		return nil, nil
	}
	fresh, err := refresher.Refresh(ctx, rejected)
	if err != nil {
		return nil, asCredentialError(err)
	}
	if fresh == nil || fresh.AccessToken == "" || fresh.AccessToken == rejected.AccessToken {
		return nil, nil
	}
	return fresh, nil
}

// asCredentialError marks a token failure so callers can tell "we have no
// usable credential" from "the network failed".
func asCredentialError(err error) error {
	var ce *CredentialError
	if errors.As(err, &ce) {
		return err
	}
	return &CredentialError{Err: err}
}
