package web

import (
	"html/template"
	"net/url"
	"strconv"
	"strings"
)

// The overview's rows are written here rather than in overview_body.html:
// a thousand rows of html/template actions cost about twenty milliseconds,
// more than the whole page may take (issue 7's benchmark, bench_test.go).
// The markup is what the status_badge partial and a template would write
// (the history strip is drawn with one path per status, see
// writeStatusStrip); every value from the config or the store is escaped.

// rowsHTML writes the rows of a group's table.
func rowsHTML(rows []checkRow) template.HTML {
	var b strings.Builder
	b.Grow(len(rows) * 1024) // a row is 600 to 900 bytes
	for _, r := range rows {
		r.writeHTML(&b)
	}
	return template.HTML(b.String())
}

// writeHTML writes the row as a <tr>. On a phone each cell stacks under
// its column's name (data-label, vigil.css).
func (r checkRow) writeHTML(b *strings.Builder) {
	esc := template.HTMLEscapeString
	b.WriteString(`<tr`)
	switch r.attention() {
	case 0:
		b.WriteString(` class="unacked"`)
	case 1, 2:
		b.WriteString(` class="handled"`)
	}
	b.WriteString(`><th scope="row"><a href="/checks/`)
	b.WriteString(esc(url.PathEscape(r.ID)))
	b.WriteString(`">`)
	b.WriteString(esc(r.ID))
	b.WriteString(`</a>`)
	if tags := r.TagList(); tags != "" {
		b.WriteString(`<br><span class="muted small">`)
		b.WriteString(esc(tags))
		b.WriteString(`</span>`)
	}
	b.WriteString(`</th><td data-label="Status">`)
	writeStatusBadge(b, r.Status)
	if r.Violations != 0 {
		b.WriteString(` <span class="small">`)
		b.WriteString(plural(r.Violations, "violation"))
		b.WriteString(`</span>`)
	}
	if in := r.Incident; in != nil {
		b.WriteString(`<br><a class="small" href="/incidents/`)
		b.WriteString(strconv.FormatInt(in.ID, 10))
		b.WriteString(`">incident #`)
		b.WriteString(strconv.FormatInt(in.ID, 10))
		b.WriteString(`</a> `)
		if in.AckedBy != "" {
			b.WriteString(`<span class="mark mark-handled">acked by <bdi>`)
			b.WriteString(esc(in.AckedBy))
			b.WriteString(`</bdi></span>`)
		} else if r.SilencedUntil.IsZero() {
			b.WriteString(`<span class="mark mark-unacked">not acknowledged</span>`)
		}
	}
	if !r.SilencedUntil.IsZero() {
		b.WriteString(`<br><span class="mark mark-handled">silenced</span> <span class="small">until `)
		writeWhen(b, r.SilencedUntil, "")
		b.WriteString(`</span>`)
	}
	b.WriteString(`</td><td data-label="Owner">`)
	b.WriteString(esc(r.Owner))
	b.WriteString(`</td><td data-label="Kind">`)
	b.WriteString(esc(r.Kind))
	b.WriteString(`</td><td data-label="Since">`)
	writeWhen(b, r.Since, "—")
	b.WriteString(`</td><td data-label="Last run">`)
	writeWhen(b, r.LastRun, "never")
	b.WriteString(`</td><td data-label="Last runs">`)
	writeStatusStrip(b, r.Recent)
	b.WriteString(`</td><td data-label="Runbook">`)
	if r.Runbook != "" {
		b.WriteString(`<a href="/runbooks/`)
		b.WriteString(esc(url.PathEscape(r.Runbook)))
		b.WriteString(`#mitigation">runbook<span class="sr-only"> of `)
		b.WriteString(esc(r.ID))
		b.WriteString(`</span></a>`)
	} else {
		b.WriteString(`<span class="muted">none</span>`)
	}
	b.WriteString("</td></tr>\n")
}

// writeStatusBadge writes what the status_badge partial writes.
func writeStatusBadge(b *strings.Builder, status string) {
	s := template.HTMLEscapeString(status)
	b.WriteString(`<span class="status status-`)
	b.WriteString(s)
	b.WriteString(`">`)
	b.WriteString(s)
	b.WriteString(`</span>`)
}
