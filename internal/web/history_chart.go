package web

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// The check page's history chart: inline SVG drawn here, so that it needs
// no JavaScript. Three strips share one time axis: violations (bars
// coloured by the worst status of their interval, incidents and silences
// shaded behind them), the kind's own measure where it has one (queue
// depth, latency, age), and the run duration. Each is an <svg role="img">
// whose aria-label says what it shows in words.

// chartRange is a span the chart can show.
type chartRange struct {
	Key   string // the ?range= value
	Label string // "last 24 hours"
	Span  time.Duration
	Step  time.Duration // one bar; 30 days by the hour is 720 bars, like the rollups
}

var chartRanges = []chartRange{
	{"1h", "last hour", time.Hour, time.Minute},
	{"24h", "last 24 hours", 24 * time.Hour, 5 * time.Minute},
	{"7d", "last 7 days", 7 * 24 * time.Hour, 30 * time.Minute},
	{"30d", "last 30 days", 30 * 24 * time.Hour, time.Hour},
}

// defaultRange is the range shown without ?range=.
const defaultRange = "24h"

// chartRangeParam reads ?range= (default 24h); 400 for another value.
func chartRangeParam(c *fiber.Ctx) (chartRange, error) {
	key := c.Query("range", defaultRange)
	for _, r := range chartRanges {
		if r.Key == key {
			return r, nil
		}
	}
	return chartRange{}, fiber.NewError(fiber.StatusBadRequest, "range must be one of 1h, 24h, 7d, 30d")
}

// measureNames says what each kind's measure (checks.MetricMeasure) is.
var measureNames = map[string]struct{ name, unit string }{
	"sqs_dlq":   {"Queue depth", "messages"},
	"http":      {"Latency", "ms"},
	"freshness": {"Age of the stalest load", "s"},
}

// chartView is the chart as the check page shows it.
type chartView struct {
	Range  chartRange
	Ranges []rangeLink
	From   when
	// Uptime is the share of the range's runs that passed or warned (the
	// SLO's good runs, as Datadog counts check.up); Runs counts them.
	Uptime     string
	Good, Runs int
	Series     []chartSeries
}

// rangeLink is one choice of the range selector.
type rangeLink struct {
	Key, URL string
	Current  bool
}

// chartSeries is one strip of the chart.
type chartSeries struct {
	ID, Title string // "chart-violations", "Violations"
	Scale     string // "0 to 5", shown beside the title
	SVG       template.HTML
}

const (
	chartWidth = 720 // viewBox units; the SVG stretches to its column
)

// checkChart reads and draws the chart of check over the range ending now;
// latest is the violations of its latest run.
func (s *Server) checkChart(c *fiber.Ctx, vc viewClock, ch config.Check, rng chartRange, before int64, latest int) (chartView, error) {
	ctx := c.UserContext()
	to := vc.now.Truncate(rng.Step).Add(rng.Step)
	from := to.Add(-rng.Span)
	v := chartView{Range: rng, From: vc.at(from)}
	for _, r := range chartRanges {
		q := url.Values{}
		if r.Key != defaultRange {
			q.Set("range", r.Key)
		}
		if before != 0 {
			q.Set("before", strconv.FormatInt(before, 10))
		}
		u := "/checks/" + url.PathEscape(ch.ID)
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		v.Ranges = append(v.Ranges, rangeLink{Key: r.Key, URL: u + "#chart-h", Current: r.Key == rng.Key})
	}
	buckets, err := s.store.History(ctx, ch.ID, from, to, rng.Step)
	if err != nil {
		return chartView{}, err
	}
	incidents, err := s.store.Incidents(ctx, store.IncidentQuery{CheckID: ch.ID, Limit: 100})
	if err != nil {
		return chartView{}, err
	}
	silences, err := s.store.SilencesBetween(ctx, from, to)
	if err != nil {
		return chartView{}, err
	}
	g := chartGeometry{from: from, step: rng.Step, n: int(rng.Span / rng.Step)}
	var shades strings.Builder
	nIncidents, nSilences := 0, 0
	for _, in := range incidents {
		end := in.ResolvedAt
		if end.IsZero() {
			end = to
		}
		if end.Before(from) || !in.OpenedAt.Before(to) {
			continue
		}
		nIncidents++
		g.shade(&shades, "shade-incident", in.OpenedAt, end, fmt.Sprintf("incident #%d", in.ID))
	}
	for _, sl := range silences {
		if !sl.Matches(ch.ID, ch.Tags) {
			continue
		}
		end := sl.Until
		if !sl.ExpiredAt.IsZero() && sl.ExpiredAt.Before(end) {
			end = sl.ExpiredAt
		}
		nSilences++
		g.shade(&shades, "shade-silence", sl.StartsAt, end, "silenced by "+sl.Author)
	}

	minV, maxV := -1, 0
	var maxM, firstM, lastM float64
	measured := false
	var maxD, minD time.Duration = 0, -1
	for _, b := range buckets {
		v.Good += b.Pass + b.Warn
		v.Runs += b.Runs()
		if minV < 0 || b.MinViolations < minV {
			minV = b.MinViolations
		}
		maxV = max(maxV, b.MaxViolations)
		if b.Measured {
			if !measured {
				firstM = b.MaxMeasure
			}
			measured, lastM, maxM = true, b.MaxMeasure, math.Max(maxM, b.MaxMeasure)
		}
		if n := b.Runs(); n > 0 {
			avg := b.Duration / time.Duration(n)
			maxD = max(maxD, avg)
			if minD < 0 || avg < minD {
				minD = avg
			}
		}
	}
	if v.Runs > 0 {
		v.Uptime = percent(v.Good, v.Runs)
	}

	// Violations.
	label := fmt.Sprintf("Violations over the %s: no runs", rng.Label)
	if v.Runs > 0 {
		label = fmt.Sprintf("Violations over the %s: min %d, max %d, latest %d; %s, %s, %s", rng.Label, minV, maxV, latest,
			plural(v.Runs, "run"), plural(nIncidents, "incident"), plural(nSilences, "silence"))
	}
	v.Series = append(v.Series, chartSeries{ID: "chart-violations", Title: "Violations", Scale: fmt.Sprintf("0 to %d", maxV),
		SVG: g.bars(label, 96, buckets, maxV, shades.String())})

	// The kind's own measure.
	if m, ok := measureNames[ch.Kind]; ok {
		label := fmt.Sprintf("%s over the %s: no value", m.name, rng.Label)
		scale := "no value"
		if measured {
			label = fmt.Sprintf("%s over the %s, in %s: from %s to %s, max %s", m.name, rng.Label, m.unit, number(firstM), number(lastM), number(maxM))
			scale = "0 to " + number(maxM) + " " + m.unit
		}
		pts := make([]chartPoint, 0, len(buckets))
		for _, b := range buckets {
			if b.Measured {
				pts = append(pts, chartPoint{g.index(b.Start), b.MaxMeasure})
			}
		}
		v.Series = append(v.Series, chartSeries{ID: "chart-measure", Title: m.name, Scale: scale, SVG: g.line(label, 64, pts, maxM, "line-measure")})
	}

	// Run duration.
	dlabel := fmt.Sprintf("Run duration over the %s: no runs", rng.Label)
	dscale := "no runs"
	pts := make([]chartPoint, 0, len(buckets))
	for _, b := range buckets {
		if n := b.Runs(); n > 0 {
			pts = append(pts, chartPoint{g.index(b.Start), float64(b.Duration/time.Duration(n)) / float64(time.Millisecond)})
		}
	}
	if len(pts) > 0 {
		dlabel = fmt.Sprintf("Run duration over the %s, in ms: from %s to %s", rng.Label, ms(minD), ms(maxD))
		dscale = "0 to " + ms(maxD) + " ms"
	}
	v.Series = append(v.Series, chartSeries{ID: "chart-duration", Title: "Run duration", Scale: dscale,
		SVG: g.line(dlabel, 48, pts, float64(maxD)/float64(time.Millisecond), "line-duration")})
	return v, nil
}

// chartGeometry maps the range's intervals to x.
type chartGeometry struct {
	from time.Time
	step time.Duration
	n    int // intervals
}

// index is the interval t falls in.
func (g chartGeometry) index(t time.Time) int { return int(t.Sub(g.from) / g.step) }

// x is the left edge of interval i, in viewBox units.
func (g chartGeometry) x(i float64) float64 { return i * chartWidth / float64(g.n) }

// shade writes a rect spanning [start, end) of the range, clipped to it.
func (g chartGeometry) shade(b *strings.Builder, class string, start, end time.Time, title string) {
	x0 := math.Max(0, float64(start.Sub(g.from))/float64(g.step))
	x1 := math.Min(float64(g.n), float64(end.Sub(g.from))/float64(g.step))
	if x1 <= x0 {
		return
	}
	fmt.Fprintf(b, `<rect class="%s" x="%s" y="0" width="%s" height="100%%"><title>%s</title></rect>`,
		class, coord(g.x(x0)), coord(math.Max(g.x(x1)-g.x(x0), 1)), template.HTMLEscapeString(title))
}

// bars draws the violations: one bar per interval with runs, as tall as
// its largest violation count, in the colour (and, for error, the outline)
// of its worst status; an interval that only passed is a low bar.
func (g chartGeometry) bars(label string, height int, buckets []store.HistoryBucket, maxV int, shades string) template.HTML {
	var paths [4]strings.Builder // fail, error, warn, pass
	w := coord(math.Max(g.x(1)-g.x(0)-0.5, 0.5))
	for _, bk := range buckets {
		k := 3
		switch {
		case bk.Fail > 0:
			k = 0
		case bk.Error > 0:
			k = 1
		case bk.Warn > 0:
			k = 2
		}
		h := 2.0
		if maxV > 0 && bk.MaxViolations > 0 {
			h = math.Max(2, float64(bk.MaxViolations)/float64(maxV)*float64(height-4))
		} else if k != 3 {
			h = 6 // a warn or fail without violations still shows
		}
		fmt.Fprintf(&paths[k], "M%s %sh%sv%sh-%sz", coord(g.x(float64(g.index(bk.Start)))), coord(float64(height)-h), w, coord(h), w)
	}
	var b strings.Builder
	g.open(&b, label, height)
	b.WriteString(shades)
	for k, class := range []string{"run-fail", "run-error", "run-warn", "run-pass"} {
		if paths[k].Len() > 0 {
			fmt.Fprintf(&b, `<path class="%s" d="%s"/>`, class, paths[k].String())
		}
	}
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, height, chartWidth, height)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// chartPoint is a value at interval I.
type chartPoint struct {
	I int
	V float64
}

// line draws values as a line with a dot per interval.
func (g chartGeometry) line(label string, height int, pts []chartPoint, maxV float64, class string) template.HTML {
	var b strings.Builder
	g.open(&b, label, height)
	if len(pts) > 0 {
		y := func(v float64) string {
			if maxV <= 0 {
				return coord(float64(height) - 1)
			}
			return coord(float64(height) - 1 - v/maxV*float64(height-4))
		}
		half := (g.x(1) - g.x(0)) / 2
		var d strings.Builder
		for i, p := range pts {
			cmd := "L"
			if i == 0 || pts[i-1].I != p.I-1 {
				cmd = "M" // a gap in the runs is a gap in the line
			}
			fmt.Fprintf(&d, "%s%s %s", cmd, coord(g.x(float64(p.I))+half), y(p.V))
		}
		fmt.Fprintf(&b, `<path class="%s" d="%s"/>`, class, d.String())
		if len(pts) <= 120 {
			var dots strings.Builder
			for _, p := range pts {
				fmt.Fprintf(&dots, "M%s %sh0", coord(g.x(float64(p.I))+half), y(p.V))
			}
			fmt.Fprintf(&b, `<path class="%s dots" d="%s"/>`, class, dots.String())
		}
	}
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, height, chartWidth, height)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// open writes the <svg> start tag of a strip labelled label.
func (g chartGeometry) open(b *strings.Builder, label string, height int) {
	l := template.HTMLEscapeString(label)
	fmt.Fprintf(b, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" preserveAspectRatio="none" width="100%%" height="%d"><title>%s</title>`,
		l, chartWidth, height, height, l)
}

// coord writes a viewBox coordinate with at most two decimals.
func coord(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }

// number writes a measure: whole numbers with thousands separators
// ("3,828"), others to two decimals.
func number(f float64) string {
	if f != math.Trunc(f) || math.Abs(f) >= 1e15 {
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	s := strconv.FormatInt(int64(math.Abs(f)), 10)
	var b strings.Builder
	if f < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ms writes a duration in milliseconds ("12", "1,530").
func ms(d time.Duration) string { return number(math.Round(float64(d) / float64(time.Millisecond))) }

// percent writes part/whole as a percentage that never rounds up to 100
// ("99.99 %" for 9,999 of 10,000): an SLO missed by one run is missed.
func percent(part, whole int) string {
	p := math.Floor(float64(part)*10000/float64(whole)) / 100
	return strconv.FormatFloat(p, 'f', -1, 64) + " %"
}
