package untrusted

import "testing"

// Text returns plain text as it is without scanning it rune by rune; that
// shortcut must agree with the full cleaning on every input.
func TestTextShortcutAgrees(t *testing.T) {
	inputs := []string{"", "a", "My Fundment Account 1", " lead", "trail ", "two  spaces", "tab\there",
		"new\nline", "del\x7f", "Café", "~!@#$%^&*()_+{}|:<>?", " ", "a b c", "zero\u200bwidth"}
	for _, in := range inputs {
		if got, want := Text(in), fold(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
		if isPlainText(in) && in != fold(in) {
			t.Errorf("isPlainText(%q) but cleaning changes it to %q", in, fold(in))
		}
	}
}
