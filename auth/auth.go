// Package auth provides the bearer tokens plannr-mcp sends to Plannr. Every
// credential is an oauth2.TokenSource: a Personal Access Token is a static
// source, and an OAuth2 login is a refreshing one.
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

// PersonalAccessToken returns a source that always yields token, a Plannr
// Personal Access Token.
func PersonalAccessToken(token string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"})
}

// ReadTokenFile reads a Personal Access Token from a file, so the token never
// appears on a command line where other users could see it in ps.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("token file %s holds more than one line or word; it must hold only the token", path)
	}
	return token, nil
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
