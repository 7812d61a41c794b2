package httpserve

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MinTokenLength is the shortest client token accepted: a token is a
// password that guards the Plannr account, so it must not be guessable.
const MinTokenLength = 16

// ErrBadToken reports a client token that is unusable. Its message never
// contains the token.
var ErrBadToken = errors.New("unusable client token")

// ParseTokens splits a comma-separated list of client tokens, as held by an
// environment variable. Blank entries are skipped.
func ParseTokens(list string) ([]string, error) {
	var tokens []string
	for i, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("token %d of the list: %w", i+1, err)
		}
		tokens = append(tokens, t)
	}
	return tokens, nil
}

// ReadTokenFile reads client tokens from a file holding one token a line.
// Blank lines and lines starting with # are skipped.
func ReadTokenFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading client token file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("client token file %s, line %d: %w", path, line, err)
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading client token file %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("client token file %s holds no token", path)
	}
	return tokens, nil
}

// checkToken accepts tokens an HTTP Authorization header can carry as is.
func checkToken(t string) error {
	if len(t) < MinTokenLength {
		return fmt.Errorf("%w: shorter than %d characters (generate one with: openssl rand -base64 32)", ErrBadToken, MinTokenLength)
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return fmt.Errorf("%w: it may hold only visible ASCII characters, without spaces", ErrBadToken)
		}
	}
	return nil
}

// clientID names the configured token a request presented; it is what a
// stateful session is bound to. With no tokens configured every request is
// clientID 0.
type clientID int

// tokenSet holds the SHA-256 digests of the client tokens, never the tokens.
type tokenSet struct {
	digests [][sha256.Size]byte
}

func newTokenSet(tokens []string) (*tokenSet, error) {
	ts := &tokenSet{}
	seen := map[[sha256.Size]byte]bool{}
	for i, t := range tokens {
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("client token %d: %w", i+1, err)
		}
		d := sha256.Sum256([]byte(t))
		if seen[d] {
			continue
		}
		seen[d] = true
		ts.digests = append(ts.digests, d)
	}
	return ts, nil
}

func (ts *tokenSet) enabled() bool { return len(ts.digests) > 0 }

// match reports which token presented is. Comparing digests of equal length,
// against every token without stopping early, takes the same time whatever
// the presented token shares with a real one.
func (ts *tokenSet) match(presented string) (clientID, bool) {
	d := sha256.Sum256([]byte(presented))
	found, index := 0, 0
	for i := range ts.digests {
		eq := subtle.ConstantTimeCompare(d[:], ts.digests[i][:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		found |= eq
	}
	return clientID(index), found == 1
}
