package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

// stripRuns is how many runs a history strip shows.
const stripRuns = 20

// stripCell is one run in a history strip: an SVG bar whose height and
// fill say its status (pass short, warn middle, fail and error full
// height, error hollow), with the status (and, when known, the run's
// violations and time) in its title.
type stripCell struct {
	X, Y, H int
	Status  string
	Title   string // "" for none
}

// newStripCell is the cell of the i-th run from the left.
func newStripCell(i int, status, title string) stripCell {
	h := 16
	switch status {
	case "pass":
		h = 5
	case "warn":
		h = 10
	}
	return stripCell{X: i * 6, Y: 16 - h, H: h, Status: status, Title: title}
}

// strip lays out runs (newest first) oldest left, newest right, each
// titled with its status, violations and start.
func strip(runs []store.Run, vc viewClock) []stripCell {
	out := make([]stripCell, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		title := fmt.Sprintf("%s, %s, %s", r.Status, plural(r.Violations, "violation"), vc.at(r.StartedAt).Abs)
		out = append(out, newStripCell(len(out), string(r.Status), title))
	}
	return out
}

// stripSVG draws a strip as inline SVG labelled with its statusCounts
// ("no runs yet" as text when it is empty).
func stripSVG(cells []stripCell) template.HTML {
	label := template.HTMLEscapeString(statusCounts(cells))
	if len(cells) == 0 {
		return template.HTML(`<span class="muted">` + label + `</span>`)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="strip" width="120" height="16" viewBox="0 0 120 16" role="img" aria-label="%s"><title>%s</title>`, label, label)
	for _, c := range cells {
		fmt.Fprintf(&b, `<rect class="run-%s" x="%d" y="%d" width="5" height="%d">`, template.HTMLEscapeString(c.Status), c.X, c.Y, c.H)
		if c.Title != "" {
			fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(c.Title))
		}
		b.WriteString(`</rect>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// writeStatusStrip writes the strip of statuses (newest first) as
// stripSVG draws theirs, but with one <path> per status instead of a
// <rect> per run, and no title per run (the strip's label counts them):
// the overview draws a strip on every row, and a path is a fifth of the
// markup.
func writeStatusStrip(b *strings.Builder, statuses []checks.Status) {
	if len(statuses) == 0 {
		b.WriteString(`<span class="muted">no runs yet</span>`)
		return
	}
	statuses = statuses[:min(len(statuses), stripRuns)]
	var counts [len(stripStatuses) + 1]int // by index in stripStatuses; last: other
	for _, st := range statuses {
		counts[stripStatusIndex(st)]++
	}
	label := make([]byte, 0, 64)
	label = append(label, "last "...)
	label = strconv.AppendInt(label, int64(len(statuses)), 10)
	label = append(label, " runs:"...)
	sep := " "
	for i, st := range stripStatuses {
		if counts[i] > 0 {
			label = append(label, sep...)
			label = strconv.AppendInt(label, int64(counts[i]), 10)
			label = append(label, ' ')
			label = append(label, st...)
			sep = ", "
		}
	}
	b.WriteString(`<svg class="strip" width="120" height="16" viewBox="0 0 120 16" role="img" aria-label="`)
	b.Write(label)
	b.WriteString(`"><title>`)
	b.Write(label)
	b.WriteString(`</title>`)
	last := len(statuses) - 1 // statuses[last] is the oldest run: the leftmost cell
	for j, st := range stripStatuses {
		if counts[j] == 0 {
			continue
		}
		b.WriteString(`<path class="run-`)
		b.WriteString(string(st))
		b.WriteString(`" d="`)
		for i := range statuses {
			if statuses[last-i] == st {
				b.WriteString(stripCells[i][j])
			}
		}
		b.WriteString(`"/>`)
	}
	if counts[len(stripStatuses)] > 0 {
		for i := range statuses {
			st := statuses[last-i]
			if stripStatusIndex(st) == len(stripStatuses) {
				c := newStripCell(i, string(st), "")
				fmt.Fprintf(b, `<path class="run-%s" d="M%d %dh5v%dh-5z"/>`, template.HTMLEscapeString(c.Status), c.X, c.Y, c.H)
			}
		}
	}
	b.WriteString(`</svg>`)
}

// stripStatuses are the statuses a strip counts, in statusOrder.
var stripStatuses = [...]checks.Status{checks.Fail, checks.Error, checks.Warn, checks.Pass}

func stripStatusIndex(st checks.Status) int {
	for i, s := range stripStatuses {
		if s == st {
			return i
		}
	}
	return len(stripStatuses)
}

// stripCells[i][j] is the outline, in SVG path data, of the i-th cell from
// the left with status stripStatuses[j]: the <rect> stripSVG would draw.
var stripCells = func() (out [stripRuns][len(stripStatuses)]string) {
	for i := range stripRuns {
		for j, st := range stripStatuses {
			c := newStripCell(i, string(st), "")
			out[i][j] = fmt.Sprintf("M%d %dh5v%dh-5z", c.X, c.Y, c.H)
		}
	}
	return out
}()

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
