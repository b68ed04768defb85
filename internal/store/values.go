package store

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/checks"
)

// cleanText makes s storable as TEXT on both drivers, identically:
// PostgreSQL rejects NUL bytes and invalid UTF-8, so each becomes U+FFFD.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

// Timestamps are unix nanoseconds, which cover the years 1678 to 2262.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// timeValue is a time as stored: NULL for the zero time, else unix nanoseconds.
func timeValue(t time.Time) (sql.NullInt64, error) {
	if t.IsZero() {
		return sql.NullInt64{}, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return sql.NullInt64{}, fmt.Errorf("time %s out of range", t.Format(time.RFC3339))
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}, nil
}

// timeFrom restores a stored time, in UTC.
func timeFrom(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}

// encodeJSON marshals v without HTML escaping (the store is not a web page).
func encodeJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// metricValue is a float64 whose JSON form also carries NaN and ±Inf (as
// the strings "NaN", "+Inf" and "-Inf"), which plain JSON numbers cannot.
type metricValue float64

func (v metricValue) MarshalJSON() ([]byte, error) {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

func (v *metricValue) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("metric value %s: %w", b, err)
	}
	*v = metricValue(f)
	return nil
}

// encodeMetrics stores nil as null and an empty map as {}, so both round-trip.
func encodeMetrics(m map[string]float64) (string, error) {
	if m == nil {
		return "null", nil
	}
	enc := make(map[string]metricValue, len(m))
	for k, v := range m {
		enc[cleanText(k)] = metricValue(v)
	}
	return encodeJSON(enc)
}

// measureValue is the run's checks.MetricMeasure for the measure column,
// NULL when the kind reported none (or a value no column can hold).
func measureValue(m map[string]float64) sql.NullFloat64 {
	v, ok := m[checks.MetricMeasure]
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: v, Valid: true}
}

func decodeMetrics(s string) (map[string]float64, error) {
	var dec map[string]metricValue
	if err := json.Unmarshal([]byte(s), &dec); err != nil {
		return nil, err
	}
	if dec == nil {
		return nil, nil
	}
	m := make(map[string]float64, len(dec))
	for k, v := range dec {
		m[k] = float64(v)
	}
	return m, nil
}

// scanAll returns a function that reads every row of a query's result
// with scan and closes the rows, passing an error of the query itself
// through; it never returns a nil slice. Use it as
// scanAll(scanRun)(db.QueryContext(...)).
func scanAll[T any](scan func(scanner) (T, error)) func(*sql.Rows, error) ([]T, error) {
	return func(rows *sql.Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []T{}
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}
