package checks

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ParseTime reads a timestamp scanned from any supported driver: a native
// time.Time, or text (string or []byte) in RFC 3339 or
// "YYYY-MM-DD HH:MM:SS[.fff]" with an optional zone (UTC when it has none).
// Anything else, NULL included, is an error that quotes the value.
func ParseTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		return parseTimeText(t)
	case []byte:
		return parseTimeText(string(t))
	case nil:
		return time.Time{}, fmt.Errorf("timestamp is NULL")
	default:
		return time.Time{}, fmt.Errorf("cannot read %q (%T) as a timestamp", Text(v), v)
	}
}

// timeLayouts are tried in order; those without a zone are read as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
}

func parseTimeText(s string) (time.Time, error) {
	// RFC 3339 allows a lower-case "t" and "z"; Go's layouts want upper case.
	trimmed := strings.ToUpper(strings.TrimSpace(s))
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, trimmed, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a timestamp (want RFC 3339 or YYYY-MM-DD HH:MM:SS[.fff])", s)
}

// Text renders a scanned value in its plain text form for keys and details:
// NULL for nil, numbers in decimal, timestamps in RFC 3339, bytes as text
// when they are UTF-8 and as \x-prefixed hex otherwise.
func Text(v any) string {
	switch t := v.(type) {
	case nil:
		return "NULL"
	case string:
		return t
	case []byte:
		if utf8.Valid(t) {
			return string(t)
		}
		return `\x` + hex.EncodeToString(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case int:
		return strconv.Itoa(t)
	case int32:
		return strconv.FormatInt(int64(t), 10)
	case uint64:
		return strconv.FormatUint(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32)
	case bool:
		return strconv.FormatBool(t)
	case time.Time:
		return t.Format(time.RFC3339Nano)
	case fmt.Stringer:
		return t.String()
	default:
		return fmt.Sprint(t)
	}
}

// IsNull reports whether a scanned value is SQL NULL.
func IsNull(v any) bool { return v == nil }

// Columns maps each required column name to its index in cols. Names match
// exactly, else case-insensitively. A missing column is an error naming it
// and listing what the query returned.
func Columns(cols []string, required ...string) (map[string]int, error) {
	idx := make(map[string]int, len(required))
	var missing []string
	for _, name := range required {
		i := ColumnIndex(cols, name)
		if i < 0 {
			missing = append(missing, name)
			continue
		}
		idx[name] = i
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("query result has no column %s (it returned: %s)",
			strings.Join(quoteAll(missing), ", "), strings.Join(cols, ", "))
	}
	return idx, nil
}

// ColumnIndex returns the index of name in cols (exact match first, then
// case-insensitive), or -1.
func ColumnIndex(cols []string, name string) int {
	for i, c := range cols {
		if c == name {
			return i
		}
	}
	for i, c := range cols {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
