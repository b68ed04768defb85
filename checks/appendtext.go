package checks

import (
	"strconv"
	"unicode/utf8"
)

// AppendText appends Text(v) to b and returns the extended slice. It
// allocates nothing for strings, UTF-8 bytes and int64, the values a
// driver scans most, so a check can build keys row by row for free.
func AppendText(b []byte, v any) []byte {
	switch t := v.(type) {
	case string:
		return append(b, t...)
	case []byte:
		if utf8.Valid(t) {
			return append(b, t...)
		}
	case int64:
		return strconv.AppendInt(b, t, 10)
	}
	return append(b, Text(v)...)
}
