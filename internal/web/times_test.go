package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
)

// relativeCases are how long ago (positive) or ahead (negative) a time is,
// and what a page says. Issue 14: "ends in 1h" for a two-hour silence set
// a second ago rounded a wait down; a wait is rounded up, an age cut down.
var relativeCases = []struct {
	ago  time.Duration
	want string
}{
	{0, "just now"},
	{999 * time.Millisecond, "just now"},
	{time.Second, "1s ago"},
	{59 * time.Second, "59s ago"},
	{time.Minute, "1m ago"},
	{3*time.Minute + 40*time.Second, "3m 40s ago"},
	{time.Hour - time.Second, "59m 59s ago"},
	{time.Hour, "1h ago"},
	{2*time.Hour - time.Second, "1h 59m ago"},
	{24 * time.Hour, "1d ago"},
	{49*time.Hour + 59*time.Minute, "2d 1h ago"},
	{-(2*time.Hour - time.Second), "in 2h"},
	{-(2*time.Hour + time.Second), "in 2h 1m"},
	{-(90 * time.Second), "in 1m 30s"},
	{-(time.Hour - 500*time.Millisecond), "in 1h"},
	{-(24*time.Hour - time.Second), "in 1d"},
	{-(72 * time.Hour), "in 3d"},
}

func TestRelative(t *testing.T) {
	now := time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)
	for _, tt := range relativeCases {
		if got := relative(now.Add(-tt.ago), now); got != tt.want {
			t.Errorf("relative(%s) = %q, want %q", tt.ago, got, tt.want)
		}
	}
}

// TestTimes: every page writes a time one way, in the viewer's zone (the
// vigil_tz cookie vigil.js sets, an IANA name) unless they asked for UTC
// (POST /preferences/time sets vigil_utc), with the relative label beside
// it; an unknown zone is UTC.
func TestTimes(t *testing.T) {
	d := newDash(t, false)
	d.record("orders-dup", checks.Fail, "O-1") // at 12:01 UTC
	vic := d.loggedIn("vic")
	const iso = `datetime="2025-03-09T12:01:00Z"`
	for _, tt := range []struct {
		name, tz, utc, want string
	}{
		{"no zone known", "", "", "2025-03-09 12:01:00 UTC"},
		{"the browser's zone", "Europe/Paris", "", "2025-03-09 13:01:00 CET"},
		{"a zone with summer time", "America/New_York", "", "2025-03-09 08:01:00 EDT"},
		{"UTC asked for", "Europe/Paris", "1", "2025-03-09 12:01:00 UTC"},
		{"an unknown zone", "Mars/Olympus_Mons", "", "2025-03-09 12:01:00 UTC"},
		{"a path, not a zone", "../../etc/passwd", "", "2025-03-09 12:01:00 UTC"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vic.cookies[tzCookie] = &http.Cookie{Name: tzCookie, Value: tt.tz}
			vic.cookies[utcCookie] = &http.Cookie{Name: utcCookie, Value: tt.utc}
			for _, path := range []string{"/", "/checks/orders-dup", "/incidents"} {
				r := vic.get(path)
				if !strings.Contains(r.body, `<time `+iso+`>`+tt.want+`</time> <span class="ago" data-t="2025-03-09T12:01:00Z">`) {
					t.Errorf("%s does not show %s as %q:\n%.300s", path, iso, tt.want, r.body[strings.Index(r.body, "<main"):])
				}
			}
		})
	}
	delete(vic.cookies, tzCookie)
	delete(vic.cookies, utcCookie)

	// The toggle: a form in the top bar, back to the page it was on.
	tok := vic.csrf("/checks/orders-dup")
	r := vic.post("/preferences/time", url.Values{"_csrf": {tok}, "utc": {"1"}, "back": {"/checks/orders-dup"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/checks/orders-dup" || vic.cookies[utcCookie] == nil {
		t.Fatalf("POST /preferences/time = %d %q, cookies %v", r.StatusCode, r.Header.Get("Location"), vic.cookies)
	}
	vic.cookies[tzCookie] = &http.Cookie{Name: tzCookie, Value: "Europe/Paris"}
	if page := vic.get("/checks/orders-dup"); !strings.Contains(page.body, "2025-03-09 12:01:00 UTC") || !strings.Contains(page.body, "Show local times") {
		t.Errorf("after asking for UTC the page does not show UTC with a way back")
	}
	vic.post("/preferences/time", url.Values{"_csrf": {tok}, "utc": {"0"}, "back": {"//evil.example/"}})
	if page := vic.get("/checks/orders-dup"); !strings.Contains(page.body, "2025-03-09 13:01:00 CET") || !strings.Contains(page.body, "Show UTC") {
		t.Errorf("after asking for local times the page does not show CET")
	}
	if r := vic.post("/preferences/time", url.Values{"_csrf": {tok}, "utc": {"maybe"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("utc=maybe = %d, want 400", r.StatusCode)
	}
}
