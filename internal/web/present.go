package web

import (
	"fmt"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

// Templates get their text ready-made: the view models below hold times
// already written as "3m ago" (with the exact time for a title), so the
// templates only lay them out.

// when is a moment as a page shows it: an age and the exact time.
type when struct {
	Ago   string // "3m ago", "in 2h", "never"
	Exact string // RFC 3339 UTC, "" when never
}

// at describes t against now.
func at(t, now time.Time) when {
	if t.IsZero() {
		return when{Ago: "never"}
	}
	return when{Ago: relative(t, now), Exact: t.UTC().Format(time.RFC3339)}
}

// relative writes t against now: "just now", "5s ago", "3m ago", "2h ago",
// "4d ago", or "in 3m" for the future.
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d.Hours()))
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// stripRuns is how many runs a history strip shows.
const stripRuns = 20

// stripCell is one run in a history strip: an SVG bar whose height and
// fill say its status (pass short, warn middle, fail and error full
// height, error hollow), with the status and time in its title.
type stripCell struct {
	X, Y, H int
	Status  string
	Title   string
}

// strip lays out runs (newest first) oldest left, newest right.
func strip(runs []store.Run, now time.Time) []stripCell {
	out := make([]stripCell, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		h := 16
		switch r.Status {
		case "pass":
			h = 5
		case "warn":
			h = 10
		}
		title := fmt.Sprintf("%s, %d violations, %s", r.Status, r.Violations, relative(r.StartedAt, now))
		out = append(out, stripCell{X: len(out) * 6, Y: 16 - h, H: h, Status: string(r.Status), Title: title})
	}
	return out
}

// statusCounts summarises a strip for screen readers: "last 20 runs: 18 pass, 2 fail".
func statusCounts(cells []stripCell) string {
	if len(cells) == 0 {
		return "no runs yet"
	}
	counts := map[string]int{}
	for _, c := range cells {
		counts[c.Status]++
	}
	s := fmt.Sprintf("last %d runs:", len(cells))
	sep := " "
	for _, st := range statusOrder {
		if n := counts[st]; n > 0 {
			s += fmt.Sprintf("%s%d %s", sep, n, st)
			sep = ", "
		}
	}
	return s
}
