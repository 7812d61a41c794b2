package tools

import (
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
// that was altered.
var errSealBroken = errors.New("it was not issued by this server or was altered")

// seal returns payload with a signature, as text a client carries back
// unchanged: a list cursor or a delete confirmation's requestState. The
// key is Options.StateKey, so replicas given the same key accept each
// other's values.
func (t *Toolset) seal(purpose string, payload []byte) string {
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(t.mac(purpose, payload))
}

// open verifies a sealed value and returns its payload.
func (t *Toolset) open(purpose, sealed string) ([]byte, error) {
	payloadPart, sigPart, ok := strings.Cut(sealed, ".")
	if !ok {
		return nil, errSealBroken
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(payloadPart)
	sig, err2 := base64.RawURLEncoding.DecodeString(sigPart)
	if err1 != nil || err2 != nil || len(payload) == 0 || !hmac.Equal(sig, t.mac(purpose, payload)) {
		return nil, errSealBroken
	}
	return payload, nil
}

// mac is the signature of payload for purpose: HMAC-SHA-256 under a key
// derived from the state key for that purpose alone, cut to 128 bits,
// which keeps cursors short and is still far beyond guessing.
func (t *Toolset) mac(purpose string, payload []byte) []byte {
	derive := hmac.New(sha256.New, t.stateKey)
	derive.Write([]byte("plannr-mcp " + purpose))
	m := hmac.New(sha256.New, derive.Sum(nil))
	m.Write(payload)
	return m.Sum(nil)[:16]
}
