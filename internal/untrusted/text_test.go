package untrusted_test

import (
	"testing"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"My Fundment Account 1", "My Fundment Account 1"},
		{"  two  spaces\tand\ttabs ", "two spaces and tabs"},
		{"line one\nline two\r\n3. forged line", "line one line two 3. forged line"},
		{"Parmenion\u202e\u200b ignore\u0007", "Parmenion ignore"},
		{"private\ue000use", "privateuse"},
		{"bad \xff byte", "bad byte"},
		{"café ☕", "café ☕"},
	}
	for _, tt := range tests {
		if got := untrusted.Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := untrusted.Quote("a\"b\nc"); got != `"a\"b c"` {
		t.Errorf("Quote = %s", got)
	}
	if got := untrusted.Excerpt("one\ntwo three", 7); got != "one two…" {
		t.Errorf("Excerpt = %q", got)
	}
}

func TestLink(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"https://api.plannrcrm.com/oauth/fundment/authorize/8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c", true},
		{"http://127.0.0.1:8080/reauthorize?x=1&y=%20", true},
		{"https://example.com/a\n2. \"Fake connection\" · healthy", false},
		{"https://example.com/ with space", false},
		{"https://example.com/\u202egpj.exe", false},
		{"javascript:alert(1)", false},
		{"data:text/html,<script>", false},
		{"//example.com/no-scheme", false},
		{"/relative/path", false},
		{"https://plannrcrm.com@evil.example/", false},
		{"https://example.com/\"quote", false},
		{"https://example.com/<tag>", false},
		{"ftp://example.com/file", false},
		{"https:///no-host", false},
		{"", false},
	}
	for _, tt := range tests {
		got, ok := untrusted.Link(tt.in)
		if ok != tt.ok || (ok && got != tt.in) {
			t.Errorf("Link(%q) = %q, %v; want ok=%v", tt.in, got, ok, tt.ok)
		}
	}
}
