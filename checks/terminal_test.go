package checks

import "testing"

// TestTerminalSafe: what ECMA-48 makes a terminal act on (C0 controls such
// as ESC, BEL and NUL, DEL, C1 controls such as CSI U+009B) and the Unicode
// bidirectional formatting characters (UAX #9; CVE-2021-42574) must reach
// the terminal as visible escapes, never as themselves.
func TestTerminalSafe(t *testing.T) {
	tests := []struct {
		name, in  string
		keepLines bool
		want      string
	}{
		{"plain text unchanged", "P-1/EN-FLOOD-01 zürich 東京 €", false, "P-1/EN-FLOOD-01 zürich 東京 €"},
		{"ANSI colour", "\x1b[31mred\x1b[0m", false, `\x1b[31mred\x1b[0m`},
		{"OSC title and hyperlink end with BEL", "\x1b]0;pwned\x07", false, `\x1b]0;pwned\x07`},
		{"NUL and DEL", "a\x00b\x7f", false, `a\x00b\x7f`},
		{"C1 CSI", "a\u009b2Jb", false, `a\x9b2Jb`},
		{"bidi override and isolate", "abc\u202edcba\u2066x\u2069", false, `abc\u202edcba\u2066x\u2069`},
		{"line breaks escaped in a cell", "a\nb\tc\rd", false, `a\x0ab\x09c\x0dd`},
		{"line breaks kept in a block", "a\nb\tc\rd", true, "a\nb\tc\\x0dd"},
		{"invalid UTF-8", "a\xffb", false, `a\xffb`},
		{"a real replacement character stays", "a\ufffdb", false, "a\ufffdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TerminalSafe(tt.in, tt.keepLines); got != tt.want {
				t.Errorf("TerminalSafe(%q, %v) = %q, want %q", tt.in, tt.keepLines, got, tt.want)
			}
		})
	}
}
