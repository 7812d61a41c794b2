// Package untrusted handles text that came from outside the process, above
// all from Plannr and its token endpoint: it removes the process's secrets
// from that text where it enters, and cleans it before it reaches text that
// a person or a model reads.
//
// Anything upstream may echo what it was sent: a debug page, a gateway's
// error page or a mistyped base URL can quote the request's Authorization
// header or form back. So every answer is scrubbed, as it is read, of the
// secrets its own request carried and of every secret the process holds,
// in the forms an echo takes: as is, JSON-escaped, URL-encoded and
// base64-encoded (also where the secret sits inside a longer encoded value,
// such as base64 of "Bearer <token>").
package untrusted

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Redacted replaces a secret found in upstream text.
const Redacted = "[REDACTED]"

// minSecretLength is the shortest value treated as a secret: shorter ones
// would blank out ordinary words of the text.
const minSecretLength = 8

// minEncodedCore is the shortest stable piece of a base64 encoding that is
// matched; shorter ones could occur in unrelated text by chance.
const minEncodedCore = 12

// Secrets is the set of secrets a process holds, in named slots: a slot is
// replaced as a whole when its secrets change (a refreshed login), so the
// set never grows with rotations. The zero value is empty and usable; a nil
// *Secrets holds nothing but still redacts the secrets a call names. It is
// safe for concurrent use.
type Secrets struct {
	mu    sync.RWMutex
	slots map[string][]pattern
	all   []pattern // every slot's patterns, longest first
	gen   uint64    // counts changes to the slots

	// memo keeps, for the secrets a call names (mostly the same bearer
	// token call after call), their forms merged with the set's, as of
	// generation gen. Pattern lists are never changed once made, so they
	// are used without the lock.
	memo map[string]merged
}

type merged struct {
	gen      uint64
	patterns []pattern
}

// maxMemo bounds the merged lists remembered.
const maxMemo = 256

// pattern is one form a secret can take in text.
type pattern struct {
	form []byte
	// encoded marks a piece of a base64 encoding: the whole run of base64
	// characters around it is redacted, not only the piece.
	encoded bool
}

// NewSecrets returns an empty set.
func NewSecrets() *Secrets { return &Secrets{} }

// Set puts values in the slot name, replacing what it held; values shorter
// than eight bytes are ignored. Set with no values empties the slot.
func (s *Secrets) Set(name string, values ...string) {
	if s == nil {
		return
	}
	var ps []pattern
	for _, v := range values {
		ps = appendForms(ps, v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots == nil {
		s.slots = map[string][]pattern{}
	}
	if len(ps) == 0 {
		delete(s.slots, name)
	} else {
		s.slots[name] = ps
	}
	all := []pattern{}
	for _, slot := range s.slots {
		all = append(all, slot...)
	}
	s.all = compact(all)
	s.gen++
}

// Redact returns text without any secret of the set or of extra. It returns
// text itself, not a copy, when there is nothing to remove.
func (s *Secrets) Redact(text []byte, extra ...string) []byte {
	return redact(text, s.patterns(extra))
}

// patterns returns the forms of extra and of the set's secrets, longest first.
func (s *Secrets) patterns(extra []string) []pattern {
	if s == nil {
		var ps []pattern
		for _, v := range extra {
			ps = appendForms(ps, v)
		}
		return compact(ps)
	}
	s.mu.RLock()
	all, gen := s.all, s.gen
	var key string
	var m merged
	var ok bool
	if len(extra) > 0 {
		key = strings.Join(extra, "\x00")
		m, ok = s.memo[key]
	}
	s.mu.RUnlock()
	switch {
	case len(extra) == 0:
		return all
	case ok && m.gen == gen:
		return m.patterns
	}
	ps := slices.Clone(all)
	for _, v := range extra {
		ps = appendForms(ps, v)
	}
	ps = compact(ps)
	s.mu.Lock()
	if s.memo == nil || len(s.memo) >= maxMemo {
		s.memo = map[string]merged{}
	}
	s.memo[key] = merged{gen: gen, patterns: ps}
	s.mu.Unlock()
	return ps
}

// RedactString is Redact for a string.
func (s *Secrets) RedactString(text string, extra ...string) string {
	b := s.Redact([]byte(text), extra...)
	if len(b) == len(text) && string(b) == text {
		return text
	}
	return string(b)
}

// RedactAnswer scrubs an answer to req of every secret req carried (its
// Authorization header and the secret fields of an OAuth2 form) and of the
// set's secrets.
func (s *Secrets) RedactAnswer(req *http.Request, answer []byte) []byte {
	return s.Redact(answer, RequestSecrets(req)...)
}

// RedactError returns err with its message scrubbed like an answer to req:
// an error of the HTTP client can quote bytes the peer sent. The result
// unwraps to err, so errors.Is and errors.As still see what it was.
func (s *Secrets) RedactError(req *http.Request, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.RedactString(msg, RequestSecrets(req)...)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// oauthSecretFields are the form fields of OAuth2 requests that hold secrets.
var oauthSecretFields = []string{"client_secret", "refresh_token", "code", "code_verifier", "access_token", "token", "client_assertion", "password"}

// RequestSecrets returns the secrets req carries: the credentials of its
// Authorization header and the secret fields of a form body it can replay.
func RequestSecrets(req *http.Request) []string {
	if req == nil {
		return nil
	}
	var out []string
	if v := req.Header.Get("Authorization"); v != "" {
		out = append(out, v)
		if _, cred, ok := strings.Cut(v, " "); ok {
			out = append(out, strings.TrimSpace(cred))
		}
		if user, pass, ok := req.BasicAuth(); ok {
			out = append(out, user+":"+pass, pass)
		}
	}
	if req.GetBody != nil && strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if body, err := req.GetBody(); err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(body)
			body.Close()
			if form, err := url.ParseQuery(b.String()); err == nil {
				for _, f := range oauthSecretFields {
					out = append(out, form[f]...)
				}
			}
		}
	}
	return out
}

// appendForms adds the forms secret can take in text: as is, JSON-escaped
// (also with PHP's escaped slashes), URL-encoded, and the stable middle of
// its base64 encodings at each of the three alignments it can have inside
// a longer encoded value.
func appendForms(ps []pattern, secret string) []pattern {
	if len(secret) < minSecretLength {
		return ps
	}
	add := func(form string, encoded bool) {
		if len(form) < minSecretLength {
			return
		}
		for _, p := range ps {
			if string(p.form) == form {
				return
			}
		}
		ps = append(ps, pattern{form: []byte(form), encoded: encoded})
	}
	add(secret, false)
	add(strings.ReplaceAll(secret, "/", `\/`), false)
	add(jsonEscaped(secret), false)
	for _, esc := range []string{url.QueryEscape(secret), url.PathEscape(secret)} {
		add(esc, false)
		add(lowerHexEscapes(esc), false)
	}
	for shift := range 3 {
		padded := append(make([]byte, shift), secret...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			if core := stableCore(enc.EncodeToString(padded), shift, len(secret)); len(core) >= minEncodedCore {
				add(core, true)
			}
		}
	}
	return ps
}

// stableCore returns the characters of a base64 encoding of shift bytes
// followed by a secret of n bytes that depend on the secret's bits alone:
// whatever precedes or follows the secret, an encoding of it at this
// alignment contains them.
func stableCore(encoded string, shift, n int) string {
	first := (8*shift + 5) / 6
	last := (8*(shift+n))/6 - 1
	if last < first || last >= len(encoded) {
		return ""
	}
	return encoded[first : last+1]
}

// jsonEscaped is secret as a JSON string's contents, with the escapes of
// encoders that escape <, > and &.
func jsonEscaped(secret string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "<", `\u003c`, ">", `\u003e`, "&", `\u0026`)
	return r.Replace(secret)
}

// lowerHexEscapes writes the percent escapes of s in lower case, as some
// encoders do.
func lowerHexEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// compact sorts ps longest first, without repeats. A secret may contain a
// shorter one; the longer is redacted first so that no piece of it
// survives the shorter one's replacement.
func compact(ps []pattern) []pattern {
	slices.SortFunc(ps, func(a, b pattern) int {
		if len(a.form) != len(b.form) {
			return len(b.form) - len(a.form)
		}
		return bytes.Compare(a.form, b.form)
	})
	return slices.CompactFunc(ps, func(a, b pattern) bool { return bytes.Equal(a.form, b.form) })
}

// redact replaces every occurrence of ps in text, copying text only once
// something is found.
func redact(text []byte, ps []pattern) []byte {
	out := text
	copied := false
	for _, p := range ps {
		for start := 0; ; {
			i := bytes.Index(out[start:], p.form)
			if i < 0 {
				break
			}
			i += start
			end := i + len(p.form)
			if p.encoded {
				for i > 0 && isBase64Char(out[i-1]) {
					i--
				}
				for end < len(out) && isBase64Char(out[end]) {
					end++
				}
			}
			if !copied {
				out = bytes.Clone(out)
				copied = true
			}
			out = slices.Replace(out, i, end, []byte(Redacted)...)
			start = i + len(Redacted)
		}
	}
	return out
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '-' || c == '_' || c == '='
}
