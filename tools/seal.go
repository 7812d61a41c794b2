package tools

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// What a sealed value is for: a value sealed for one purpose is refused
// for another.
const (
	purposeCursor      = "list cursor"
	purposeDelete      = "delete confirmation"
	purposeReauthorize = "re-authorization"
)

// MinStateKeyLength is the shortest state key accepted, in bytes.
const MinStateKeyLength = 32

// errSealBroken reports a sealed value this server did not issue, or one
// that was altered, or, where each person signs in, one issued to someone else.
var errSealBroken = errors.New("it was not issued by this server to the person calling, or was altered")

// seal returns payload with a signature, as text a client carries back
// unchanged: a list cursor or a delete confirmation's requestState. The
// key is Options.StateKey, so replicas given the same key accept each
// other's values; with Options.Subject, the value is bound to the person
// the call acts for, and refused for anyone else.
func (t *Toolset) seal(ctx context.Context, purpose string, payload []byte) string {
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(t.mac(ctx, purpose, payload))
}

// open verifies a sealed value and returns its payload.
func (t *Toolset) open(ctx context.Context, purpose, sealed string) ([]byte, error) {
	payloadPart, sigPart, ok := strings.Cut(sealed, ".")
	if !ok {
		return nil, errSealBroken
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(payloadPart)
	sig, err2 := base64.RawURLEncoding.DecodeString(sigPart)
	if err1 != nil || err2 != nil || len(payload) == 0 || !hmac.Equal(sig, t.mac(ctx, purpose, payload)) {
		return nil, errSealBroken
	}
	return payload, nil
}

// mac is the signature of payload for purpose: HMAC-SHA-256 under a key
// derived from the state key for that purpose alone (and the person, with
// Options.Subject), cut to 128 bits, which keeps cursors short and is
// still far beyond guessing.
func (t *Toolset) mac(ctx context.Context, purpose string, payload []byte) []byte {
	derive := hmac.New(sha256.New, t.stateKey)
	derive.Write([]byte("plannr-mcp " + purpose))
	if t.opts.Subject != nil {
		derive.Write([]byte("\x00for " + t.opts.Subject(ctx)))
	}
	m := hmac.New(sha256.New, derive.Sum(nil))
	m.Write(payload)
	return m.Sum(nil)[:16]
}
