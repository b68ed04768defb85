package checks

import (
	"math"
	"testing"
	"time"
)

// An age shown to on-call must never read older than it is (a load 5h59m
// ago is not "6h" ago: the 6h threshold has not passed), and must read in
// units a person reads at a glance: the two largest non-zero ones.
func TestHumanAge(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    time.Duration
		want string
	}{
		{"just under a threshold", 6*time.Hour - time.Second, "5h 59m"},
		{"days and hours", 3*24*time.Hour + 4*time.Hour + 59*time.Minute, "3d 4h"},
		{"whole hours", 2 * time.Hour, "2h"},
		{"a zero second unit is left out, not replaced by a third", 5*24*time.Hour + 59*time.Minute, "5d"},
		{"seconds", 45*time.Second + 900*time.Millisecond, "45s"},
		{"under a second", 750*time.Millisecond + 999*time.Microsecond, "750ms"},
		{"ahead reads the same", -(90 * time.Second), "1m 30s"},
		{"overflow", math.MaxInt64, "more than 292 years"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := HumanAge(tt.d); got != tt.want {
				t.Fatalf("HumanAge(%s) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		36 * time.Hour: "1d 12h",
		2*time.Hour + 59*time.Minute + 59*time.Second: "2h 59m 59s",
		90 * time.Second:       "1m 30s",
		500 * time.Millisecond: "500ms",
		-2 * time.Hour:         "-2h",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
