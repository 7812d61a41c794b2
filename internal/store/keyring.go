package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinKeyLength is the shortest store key accepted, in bytes.
const MinKeyLength = 32

// sealVersion starts every sealed value, so that the format can change.
const sealVersion = 1

// keyIDLength is the length of the key id a sealed value carries.
const keyIDLength = 8

// ErrNoKey reports a sealed value that no key of the keyring opens: it was
// written under a key that is not configured, or it was altered.
var ErrNoKey = errors.New("no configured store key opens it")

// Keyring encrypts and decrypts what the store holds encrypted, with
// AES-256-GCM. The current key encrypts; the current and the old keys
// decrypt, so that a key can be rotated: configure the new key as current
// and the old one as old, then run plannr-mcp store rekey (or let rows be
// rewritten as they change), then drop the old key.
type Keyring struct {
	current []byte // id of the current key
	aeads   map[string]cipher.AEAD
	macKey  []byte // derived from the current key, for MAC
}

// NewKeyring returns a keyring whose current key derives from secret, and
// which also opens what the old secrets sealed. Each secret is at least
// MinKeyLength bytes, such as the output of openssl rand -base64 32.
func NewKeyring(secret string, old ...string) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, s := range append([]string{secret}, old...) {
		if len(s) < MinKeyLength {
			what := "the store key"
			if i > 0 {
				what = fmt.Sprintf("old store key %d", i)
			}
			return nil, fmt.Errorf("%s is %d bytes long; use at least %d random bytes, such as the output of: openssl rand -base64 32", what, len(s), MinKeyLength)
		}
		id, aead, err := deriveKey(s)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			k.current = id
			m := hmac.New(sha256.New, []byte(s))
			m.Write([]byte("plannr-mcp signing key v1"))
			k.macKey = m.Sum(nil)
		}
		k.aeads[string(id)] = aead
	}
	return k, nil
}

// RandomKeyring returns a keyring with a random key, for a store that
// lives only as long as the process (the sandbox's).
func RandomKeyring() *Keyring {
	k, err := NewKeyring(rand.Text() + rand.Text())
	if err != nil {
		panic(err) // 52 characters are long enough
	}
	return k
}

// deriveKey turns a secret into an AES-256 key, by HMAC-SHA-256 for this
// purpose alone, and names it by an id that reveals nothing of it.
func deriveKey(secret string) ([]byte, cipher.AEAD, error) {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("plannr-mcp store encryption key v1"))
	key := m.Sum(nil)
	idSum := sha256.Sum256(append([]byte("plannr-mcp store key id "), key...))
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, fmt.Errorf("store key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("store key: %w", err)
	}
	return idSum[:keyIDLength], aead, nil
}

// Seal encrypts plaintext with the current key. aad binds the result to
// where it is stored (the row's key), so that it cannot be moved to
// another row.
func (k *Keyring) Seal(plaintext, aad []byte) []byte {
	aead := k.aeads[string(k.current)]
	out := make([]byte, 0, 1+keyIDLength+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, sealVersion)
	out = append(out, k.current...)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, aad)
}

// Open decrypts what Seal sealed with any key of the keyring.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+keyIDLength || sealed[0] != sealVersion {
		return nil, fmt.Errorf("decrypting: %w (unknown format)", ErrNoKey)
	}
	aead, ok := k.aeads[string(sealed[1:1+keyIDLength])]
	if !ok {
		return nil, fmt.Errorf("decrypting: %w (it was written under another key; configure that key in PLANNR_MCP_STORE_OLD_KEYS)", ErrNoKey)
	}
	rest := sealed[1+keyIDLength:]
	if len(rest) < aead.NonceSize() {
		return nil, fmt.Errorf("decrypting: %w (cut short)", ErrNoKey)
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("decrypting: %w (altered, or moved from another row)", ErrNoKey)
	}
	return plain, nil
}

// isCurrent reports whether sealed was sealed with the current key.
func (k *Keyring) isCurrent(sealed []byte) bool {
	return len(sealed) >= 1+keyIDLength && string(sealed[1:1+keyIDLength]) == string(k.current)
}

// MAC signs data for purpose with a key derived from the current key, so
// that replicas sharing the store key accept each other's signatures.
func (k *Keyring) MAC(purpose string, data []byte) []byte {
	m := hmac.New(sha256.New, k.macKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(data)
	return m.Sum(nil)
}
