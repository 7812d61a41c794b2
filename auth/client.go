package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// Client is an OAuth2 client registered with Plannr that signs people in
// on a server's own redirect URL: the remote mode's authorization server
// sends each person to Plannr with it.
type Client struct {
	// BaseURL is the Plannr to sign in to.
	BaseURL string
	// ID and Secret are the client Plannr issued.
	ID     string
	Secret string
	// RedirectURL is the callback registered with Plannr, compared exactly.
	RedirectURL string
	// HTTPClient sends the token requests; nil means NewTokenHTTPClient.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Secrets scrubs what Plannr answers; the client secret is added.
	Secrets *untrusted.Secrets
}

func (c *Client) config() *oauth2.Config {
	return oauthConfig(c.BaseURL, c.ID, c.Secret, c.RedirectURL)
}

// AuthCodeURL is the Plannr authorization URL to send a person to, with
// state and the S256 challenge of verifier.
func (c *Client) AuthCodeURL(state, verifier string) string {
	return c.config().AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// Exchange trades the code Plannr's callback carried for the person's
// login, and reads who they are from /api/v1/logins; both must succeed.
// Its errors quote only Passport's error code, description and hint.
func (c *Client) Exchange(ctx context.Context, code, verifier string) (*Record, error) {
	c.Secrets.Set("plannr client", c.Secret)
	client, now := c.HTTPClient, c.Now
	if client == nil {
		client = NewTokenHTTPClient(DefaultRefreshTimeout, c.Secrets)
	}
	if now == nil {
		now = time.Now
	}
	rec, err := exchangeCode(ctx, c.config(), code, verifier, c.BaseURL, client, now)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			//lint:ignore ST1005 Plannr is a name, and starts the sentence a person reads.
			return nil, fmt.Errorf("Plannr refused the authorization code (%s)", describeOAuthError(re))
		}
		return nil, fmt.Errorf("exchanging the authorization code with Plannr: %w", err)
	}
	user, err := whoAmI(ctx, c.BaseURL, c.Secrets, rec.Token())
	if err != nil {
		return nil, fmt.Errorf("reading who signed in from Plannr: %w", err)
	}
	rec.User = user
	return rec, nil
}
