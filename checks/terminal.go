package checks

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// TerminalSafe returns s with every character that a terminal would act
// on instead of print written as a visible escape: C0 controls, DEL and C1
// controls (ESC starts ANSI colour and cursor sequences, OSC sets titles and
// hyperlinks, BEL rings, NUL truncates; ECMA-48) become \xHH or \uHHHH, and
// so do the Unicode bidirectional formatting characters (U+061C, U+200E,
// U+200F, U+202A to U+202E, U+2066 to U+2069), which reorder the text around
// them (the "Trojan Source" attack, CVE-2021-42574). Bytes that are not
// UTF-8 become \xHH. Everything else, a backslash included, is left as it
// is: the result is for reading, not for parsing back. keepLines keeps
// newlines and tabs, for multi-line text such as an error with a trace.
func TerminalSafe(s string, keepLines bool) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r, keepLines) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteString(`\x` + hex2(s[i]))
		case unsafeRune(r, keepLines) && r < 0x100:
			b.WriteString(`\x` + hex2(byte(r)))
		case unsafeRune(r, keepLines):
			b.WriteString(`\u` + strconv.FormatInt(int64(r), 16))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

// unsafeRune reports whether a terminal acts on r rather than printing it.
func unsafeRune(r rune, keepLines bool) bool {
	switch {
	case keepLines && (r == '\n' || r == '\t'):
		return false
	case r < 0x20, r >= 0x7f && r < 0xa0:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
