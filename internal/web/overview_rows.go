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

// writeHTML writes the row as a <tr>.
func (r checkRow) writeHTML(b *strings.Builder) {
	esc := template.HTMLEscapeString
	b.WriteString(`<tr><th scope="row"><a href="/checks/`)
	b.WriteString(esc(url.PathEscape(r.ID)))
	b.WriteString(`">`)
	b.WriteString(esc(r.ID))
	b.WriteString(`</a>`)
	if tags := r.TagList(); tags != "" {
		b.WriteString(`<br><span class="muted small">`)
		b.WriteString(esc(tags))
		b.WriteString(`</span>`)
	}
	b.WriteString(`</th><td>`)
	writeStatusBadge(b, r.Status)
	if r.Violations != 0 {
		b.WriteString(` <span class="small">`)
		b.WriteString(strconv.Itoa(r.Violations))
		b.WriteString(` violations</span>`)
	}
	if in := r.Incident; in != nil {
		b.WriteString(`<br><a class="small" href="/checks/`)
		b.WriteString(esc(url.PathEscape(in.CheckID)))
		b.WriteString(`#incident">incident #`)
		b.WriteString(strconv.FormatInt(in.ID, 10))
		b.WriteString(`</a>`)
		if in.AckedBy != "" {
			b.WriteString(` <span class="small">acked by `)
			b.WriteString(esc(in.AckedBy))
			b.WriteString(`</span>`)
		}
	}
	if r.SilencedUntil.Ago != "" {
		b.WriteString(`<br><span class="small">silenced, ends `)
		b.WriteString(esc(r.SilencedUntil.Ago))
		b.WriteString(`</span>`)
	}
	b.WriteString(`</td><td>`)
	b.WriteString(esc(r.Owner))
	b.WriteString(`</td><td>`)
	b.WriteString(esc(r.Kind))
	b.WriteString(`</td><td>`)
	writeWhen(b, r.Since, "—")
	b.WriteString(`</td><td>`)
	writeWhen(b, r.LastRun, "never")
	b.WriteString(`</td><td>`)
	writeStatusStrip(b, r.Recent)
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

// writeWhen writes w as a <time>, or none when it is never.
func writeWhen(b *strings.Builder, w when, none string) {
	if w.Exact == "" {
		b.WriteString(none)
		return
	}
	exact := template.HTMLEscapeString(w.Exact)
	b.WriteString(`<time datetime="`)
	b.WriteString(exact)
	b.WriteString(`" title="`)
	b.WriteString(exact)
	b.WriteString(`">`)
	b.WriteString(template.HTMLEscapeString(w.Ago))
	b.WriteString(`</time>`)
}
