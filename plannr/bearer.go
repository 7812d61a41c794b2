package plannr

import (
	"context"
	"errors"
	"io"
	"net/http"

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
// that token. A request whose body cannot be replayed is not sent again.
type Refresher interface {
	// Refresh returns a token to use instead of rejected: one that another
	// caller already obtained, or a newly refreshed one.
	Refresh(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error)
}

// bearerTransport authenticates each request with a token from source and,
// when the source is a Refresher, replaces a rejected token once.
type bearerTransport struct {
	source oauth2.TokenSource
	base   http.RoundTripper
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper must close the request body, even on error; base does
	// once it has been called.
	bodyClosed := false
	if req.Body != nil {
		defer func() {
			if !bodyClosed {
				req.Body.Close()
			}
		}()
	}
	tok, err := t.token(req.Context())
	if err != nil {
		return nil, err
	}
	bodyClosed = true
	resp, err := t.base.RoundTrip(withToken(req, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	refresher, ok := t.source.(Refresher)
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !ok || !replayable {
		return resp, nil
	}
	fresh, err := refresher.Refresh(req.Context(), tok)
	if err != nil {
		closeBody(resp)
		return nil, asCredentialError(err)
	}
	if fresh == nil || fresh.AccessToken == tok.AccessToken {
		return resp, nil
	}
	closeBody(resp)
	retry := req.Clone(req.Context())
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return t.base.RoundTrip(withToken(retry, fresh))
}

// token asks the source for a token, with ctx when the source takes one.
func (t *bearerTransport) token(ctx context.Context) (*oauth2.Token, error) {
	var (
		tok *oauth2.Token
		err error
	)
	if cs, ok := t.source.(ContextTokenSource); ok {
		tok, err = cs.TokenContext(ctx)
	} else {
		tok, err = t.source.Token()
	}
	if err != nil {
		return nil, asCredentialError(err)
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, &CredentialError{Err: errors.New("the token source returned an empty token")}
	}
	return tok, nil
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

// withToken returns a copy of req carrying tok; RoundTrippers must not
// change the request they are given.
func withToken(req *http.Request, tok *oauth2.Token) *http.Request {
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	return r
}

// closeBody drains a little of an unwanted answer so its connection can be
// reused, then closes it.
func closeBody(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
}
