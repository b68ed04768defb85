package checks

import (
	"testing"
	"time"
)

// FuzzReadUnixTime checks that the fast path reads text exactly as
// ParseTime does.
func FuzzReadUnixTime(f *testing.F) {
	for _, s := range []string{
		"2024-01-02 10:00:00", "2024-02-29 23:59:59", "2023-02-29 10:00:00", "2024-13-01 10:00:00",
		"2024-01-02 24:00:00", "2024-01-02 10:60:00", "2024-01-02 10:00:60", "0000-01-01 00:00:00",
		"1969-12-31 23:59:59", "2024-01-02T10:00:00Z", "2024-01-02T10:00:00.123+02:00", "2024-01-02 10:00:00.5",
		"2024-01-0a 10:00:00", "+024-01-02 10:00:00", " 2024-01-02 10:00:00", "2024-01-02T10:00:00", "yesterday",
		"2024-01-02t10:00:00.5z", "2024-01-02 10:00:00z",
		"2024-01-02 10:00:00.123456789", "2024-01-02T10:00:00.1234567891Z", "2024-01-02T10:00:00+24:00",
		"2024-01-02T10:00:00-05:30", "2024-01-02 10:00:00.+01:00", "2024-01-02T10:00:00+0530",
		"2024-01-02T10:00:00.5-00:00", "2024-12-31T23:59:59.999999999-23:59", "2024-01-02T10:00:00+05:3a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantErr := ParseTime(s)
		for _, v := range []any{s, []byte(s)} {
			sec, nsec, err := ReadUnixTime(v)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("ReadUnixTime(%q) error %v, ParseTime error %v", s, err, wantErr)
			}
			if err != nil {
				if err.Error() != wantErr.Error() {
					t.Fatalf("ReadUnixTime(%q) error %q, ParseTime error %q", s, err, wantErr)
				}
				continue
			}
			if got := time.Unix(sec, int64(nsec)); !got.Equal(want) {
				t.Fatalf("ReadUnixTime(%q) = %s, ParseTime = %s", s, got.UTC(), want.UTC())
			}
		}
	})
}

// BenchmarkReadUnixTime reads the two text forms a database most often
// hands over, as a data check reads a million of them.
func BenchmarkReadUnixTime(b *testing.B) {
	for _, s := range []string{"2024-07-19 13:45:07", "2024-07-19T13:45:07.123456Z"} {
		b.Run(s, func(b *testing.B) {
			var v any = s
			for b.Loop() {
				if _, _, err := ReadUnixTime(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
