package untrusted

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text makes upstream text safe to put in a line that a person or a model
// reads: control characters, invisible formatting characters (zero-width
// spaces, bidi overrides: Unicode category Cf) and private-use characters
// are removed, and every run of white space, newlines included, becomes
// one space. A line break in upstream text can therefore never start a
// line of its own.
func Text(s string) string {
	if isPlainText(s) {
		return s
	}
	return fold(s)
}

// Quote is Text in double quotes, escaped as a Go string, so that it reads
// as data: a label, a name, a message.
func Quote(s string) string { return strconv.Quote(Text(s)) }

// fold is Text without the shortcut for text that needs no cleaning.
func fold(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case Invisible(r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// Invisible reports whether r is a character Text removes: a control,
// formatting (Cf) or private-use character, or a byte that is not UTF-8.
func Invisible(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r)
}

// isPlainText reports whether Text would return s as it is: printable
// ASCII with single spaces between words, as most labels and names are.
// Those are then neither decoded rune by rune nor copied.
func isPlainText(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c > ' ' && c < 0x7f:
		case c == ' ' && i > 0 && i < len(s)-1 && s[i-1] != ' ':
		default:
			return false
		}
	}
	return true
}

// Truncate returns at most n runes of s, ending in "…" when it cut.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// Excerpt is Text cut to at most n runes: a bounded, cleaned quote of
// upstream text, such as an error body that was not JSON.
func Excerpt(s string, n int) string { return Truncate(Text(s), n) }

// Link returns u if it is safe to show as a link: an absolute http or https
// URL with a host and no user information, made only of the characters a
// URL may hold (no white space, no control or invisible characters, no
// quotes or angle brackets that could end the text around it). Anything
// else reports false and must not be shown as a link.
func Link(u string) (string, bool) {
	if u == "" || len(u) > 2048 {
		return "", false
	}
	for i := 0; i < len(u); i++ {
		if !isURLChar(u[i]) {
			return "", false
		}
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil || p.Opaque != "" {
		return "", false
	}
	switch strings.ToLower(p.Scheme) {
	case "https", "http":
	default:
		return "", false
	}
	return u, true
}

// isURLChar reports whether c may appear in a URL as RFC 3986 writes it:
// unreserved, reserved and percent signs, but not the quote characters
// some writers leave unescaped.
func isURLChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&()*+,;=%", c) >= 0
}
