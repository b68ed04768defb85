package scriptlog

import (
	"fmt"
	"time"
)

// ParseBound reads one end of a search's date range: RFC 3339, YYYY-MM-DD,
// or YYYY-MM-DD[T ]HH:MM[:SS] (UTC). A bare date read as an end (end true)
// is the start of the next day, so the whole day is included.
func ParseBound(s string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time (want RFC 3339 or YYYY-MM-DD[ HH:MM[:SS]])", s)
}
