package checks

import (
	"math"
	"testing"
	"time"
)

// TestAppendText checks that AppendText writes exactly what Text returns,
// after what the buffer already holds.
func TestAppendText(t *testing.T) {
	cases := []struct {
		name string
		v    any
	}{
		{name: "nil", v: nil},
		{name: "string", v: "P-1|東京"},
		{name: "empty string", v: ""},
		{name: "utf-8 bytes", v: []byte("ключ")},
		{name: "binary bytes", v: []byte{0xff, 0x00, 0x41}},
		{name: "int64", v: int64(math.MinInt64)},
		{name: "int32", v: int32(-7)},
		{name: "float64", v: 2.5},
		{name: "bool", v: true},
		{name: "time", v: time.Date(2024, 1, 2, 10, 0, 0, 250e6, time.UTC)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendText([]byte("prefix:"), tc.v))
			if want := "prefix:" + Text(tc.v); got != want {
				t.Errorf("AppendText(%#v) = %q, want %q", tc.v, got, want)
			}
		})
	}
}
