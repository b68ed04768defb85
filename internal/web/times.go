package web

import (
	"html/template"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the viewer's zone, by IANA name, on any host

	"github.com/gofiber/fiber/v2"
)

// Every time a page shows is written one way: the moment in the viewer's
// zone ("2025-03-09 13:00:05 CET"), then how long ago or ahead it is
// ("3m 40s ago", "in 2h"), which vigil.js keeps ticking. The zone is the
// browser's (vigil.js reports it in the vigil_tz cookie), UTC without
// JavaScript or when the viewer asked for UTC (the vigil_utc cookie, set
// by the toggle in the top bar: POST /preferences/time).

// Cookies of the time preference.
const (
	tzCookie  = "vigil_tz"  // the browser's IANA zone, set by vigil.js
	utcCookie = "vigil_utc" // "1": show UTC whatever the browser's zone
)

// absLayout is the one format of an absolute time.
const absLayout = "2006-01-02 15:04:05 MST"

// when is a moment as a page shows it. The zero when is "never".
type when struct {
	ISO string // RFC 3339 in UTC, for <time datetime>; "" for never
	Abs string // in the viewer's zone: "2025-03-09 13:00:05 CET"
	Rel string // against the page's now: "3m 40s ago", "in 2h", "just now"
}

// IsZero reports whether w is never.
func (w when) IsZero() bool { return w.ISO == "" }

// HTML writes w as a <time> and its relative label (an empty string for
// never).
func (w when) HTML() template.HTML {
	if w.IsZero() {
		return ""
	}
	var b strings.Builder
	writeWhen(&b, w, "")
	return template.HTML(b.String())
}

// Or is HTML, or none when w is never.
func (w when) Or(none string) template.HTML {
	if w.IsZero() {
		return template.HTML(template.HTMLEscapeString(none))
	}
	return w.HTML()
}

// writeWhen writes w as HTML (none, escaped, when it is never). The
// relative label is a span.ago: vigil.js ticks it, and a poll's version
// leaves it out (stableVersion), so a page whose only change is the clock
// is not sent again.
func writeWhen(b *strings.Builder, w when, none string) {
	if w.IsZero() {
		b.WriteString(template.HTMLEscapeString(none))
		return
	}
	iso := template.HTMLEscapeString(w.ISO)
	b.WriteString(`<time datetime="`)
	b.WriteString(iso)
	b.WriteString(`">`)
	b.WriteString(template.HTMLEscapeString(w.Abs))
	b.WriteString(`</time> <span class="ago" data-t="`)
	b.WriteString(iso)
	b.WriteString(`">`)
	b.WriteString(template.HTMLEscapeString(w.Rel))
	b.WriteString(`</span>`)
}

// viewClock is how one response writes times: its now and the viewer's
// zone.
type viewClock struct {
	now     time.Time
	loc     *time.Location
	utcPref bool // the viewer asked for UTC
}

// at describes t for the viewer.
func (vc viewClock) at(t time.Time) when {
	if t.IsZero() {
		return when{}
	}
	return when{ISO: t.UTC().Format(time.RFC3339), Abs: t.In(vc.loc).Format(absLayout), Rel: relative(t, vc.now)}
}

// At is at, for templates: {{($.Clock.At .StartedAt).HTML}}.
func (vc viewClock) At(t time.Time) when { return vc.at(t) }

// UTCChosen reports whether the viewer asked for UTC.
func (vc viewClock) UTCChosen() bool { return vc.utcPref }

// Zone names the zone times are shown in.
func (vc viewClock) Zone() string { return vc.loc.String() }

// viewClock is the request's: now, in the viewer's zone.
func (s *Server) viewClock(c *fiber.Ctx) viewClock {
	vc := viewClock{now: s.now(), loc: time.UTC, utcPref: c.Cookies(utcCookie) == "1"}
	if !vc.utcPref {
		vc.loc = zone(c.Cookies(tzCookie))
	}
	return vc
}

// zones caches the zones viewers named (only valid ones: a bounded set).
var zones sync.Map // IANA name -> *time.Location

// zone returns the location named (UTC for "", "Local" or an unknown
// name: the server's own zone is no viewer's).
func zone(name string) *time.Location {
	if name == "" || name == "Local" || len(name) > 64 {
		return time.UTC
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	zones.Store(name, l)
	return l
}

// relative writes t against now, never making a wait look shorter than it
// is: the past is cut to its unit ("3m 40s ago", "1h 59m ago"), the future
// rounded up to it ("in 2h" for a silence set for two hours a second ago).
// Units: seconds under a minute, minutes and seconds under an hour, hours
// and minutes under a day, then days and hours. vigil.js writes the same.
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	if d < time.Second {
		return "just now"
	}
	unit := time.Second
	switch {
	case d >= 24*time.Hour:
		unit = time.Hour
	case d >= time.Hour:
		unit = time.Minute
	}
	n := int64(d / unit)
	if future && d%unit != 0 {
		n++ // round a wait up
		if unit == time.Second && n >= 3600 {
			unit, n = time.Minute, n/60
		} else if unit == time.Minute && n >= 24*60 {
			unit, n = time.Hour, n/60
		}
	}
	var s string
	switch unit {
	case time.Second:
		s = pair(n/60, "m", n%60, "s")
	case time.Minute:
		s = pair(n/60, "h", n%60, "m")
	default:
		s = pair(n/24, "d", n%24, "h")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// pair writes "3m 40s", "3m" (no zero second part) or "40s" (no zero
// first part).
func pair(a int64, ua string, b int64, ub string) string {
	switch {
	case a == 0:
		return strconv.FormatInt(b, 10) + ub
	case b == 0:
		return strconv.FormatInt(a, 10) + ua
	}
	return strconv.FormatInt(a, 10) + ua + " " + strconv.FormatInt(b, 10) + ub
}

// plural writes n and noun, made plural when n is not 1: "1 violation",
// "3 violations".
func plural(n int, noun string) string {
	s := strconv.Itoa(n) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}
