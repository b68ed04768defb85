package checks

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// HumanDuration writes a configured duration in days, hours, minutes and
// seconds, leaving out zero units: "1d 12h", "2h 59m 59s", 90s as "1m 30s";
// under a second in milliseconds ("500ms").
func HumanDuration(d time.Duration) string {
	if d < time.Second && d > -time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	if d < 0 {
		return "-" + HumanDuration(-d)
	}
	return strings.Join(durationUnits(d), " ")
}

// HumanAge writes how long ago (or ahead) something happened in its
// largest unit and the next one (left out when zero), truncated so that it
// never reads older than it is: "3d 4h", "5d" for 5d 0h 59m, "3h 12m",
// "45s", "750ms". A span too long for a time.Duration
// (about 292 years) reads "more than 292 years".
func HumanAge(d time.Duration) string {
	if d == math.MaxInt64 || d == math.MinInt64 {
		return "more than 292 years"
	}
	if d < 0 {
		d = -d
	}
	if d < time.Second {
		return HumanDuration(d.Truncate(time.Millisecond))
	}
	for _, u := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if d >= u {
			return strings.Join(durationUnits(d.Truncate(u/unitRatio(u))), " ")
		}
	}
	return HumanDuration(d)
}

// unitRatio is how many of the next smaller unit make u.
func unitRatio(u time.Duration) time.Duration {
	if u == 24*time.Hour {
		return 24
	}
	return 60
}

// durationUnits splits d (at least a second) into its non-zero days,
// hours, minutes and seconds.
func durationUnits(d time.Duration) []string {
	var parts []string
	for _, u := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.size; n > 0 {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+u.name)
			d -= n * u.size
		}
	}
	return parts
}
