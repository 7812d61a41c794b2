// Package auth provides the bearer tokens plannr-mcp sends to Plannr. Every
// credential is an oauth2.TokenSource: a Personal Access Token is a static
// source, and an OAuth2 login is a refreshing one.
//
// An OAuth2 login (see Login) is kept in a Store, a file in the user's
// configuration directory that every plannr-mcp process on the machine
// shares. A Source serves its access token and refreshes it shortly before
// it expires. Plannr rotates refresh tokens and a refresh token used twice
// logs the person out, so a refresh happens under a cross-process lock and
// only after re-reading the file, and every rotated token is saved before
// it is used.
package auth

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/oauth2"
)

// ErrNoCredential reports that no credential is configured.
var ErrNoCredential = errors.New("no Plannr credential is configured")

// ErrNotLoggedIn reports that no OAuth2 login is stored.
var ErrNotLoggedIn = errors.New("nobody has logged in with plannr-mcp login")

// ErrLoginRequired reports that the stored OAuth2 login can no longer be
// used: its refresh token expired or was revoked, or Plannr refused the
// client. Errors that wrap it say why; the remedy is always a new login.
var ErrLoginRequired = errors.New("the Plannr login has expired or was revoked: run `plannr-mcp login` in a terminal to log in again")

// ErrClientRefused reports that Plannr refused the OAuth2 client id or
// secret of a refresh: the client's configuration is at fault, not the
// person's login.
//
//lint:ignore ST1005 Plannr is a name, and starts the sentence a person reads.
var ErrClientRefused = errors.New("Plannr refused the client id or secret")

// PersonalAccessToken returns a source that always yields token, a Plannr
// Personal Access Token.
func PersonalAccessToken(token string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
}

// ReadTokenFile reads a Personal Access Token from a file, so the token never
// appears on a command line where other users could see it in ps.
func ReadTokenFile(path string) (string, error) {
	return ReadSecretFile(path, "token")
}

// ReadSecretFile reads a secret, such as an OAuth2 client secret, from a
// file that holds only that secret; what names it in errors.
func ReadSecretFile(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s file: %w", what, err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("%s file %s is empty", what, path)
	}
	if strings.ContainsAny(secret, " \t\r\n") {
		return "", fmt.Errorf("%s file %s holds more than one line or word; it must hold only the %s", what, path, what)
	}
	return secret, nil
}

// Unconfigured returns a source whose every call fails with ErrNoCredential
// and advice on how to configure one. The server still starts without a
// credential, so clients can list its tools; each call then explains itself.
func Unconfigured(advice string) oauth2.TokenSource {
	return unconfigured{advice: advice}
}

type unconfigured struct{ advice string }

func (u unconfigured) Token() (*oauth2.Token, error) {
	return nil, fmt.Errorf("%w: %s", ErrNoCredential, u.advice)
}
