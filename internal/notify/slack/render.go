package slack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/store"
)

// Payload is an incoming-webhook message: a plain-text fallback (shown in
// notifications) and Block Kit blocks.
type Payload struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks"`
}

// Block is one Block Kit layout block (header, section, context or actions).
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`
	Fields   []Text `json:"fields,omitempty"`
	Elements []any  `json:"elements,omitempty"`
}

// Text is a Block Kit text object ("mrkdwn" or "plain_text").
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Button is a link button in an actions block.
type Button struct {
	Type string `json:"type"` // "button"
	Text Text   `json:"text"`
	URL  string `json:"url"`
}

// JSON encodes the payload as Slack expects it (without HTML escaping).
func (p Payload) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("slack: encode message: %w", err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// Links makes the dashboard's absolute URLs from its base URL (the
// server.base_url setting). With an empty base, messages carry no links.
type Links struct{ Base string }

// Check is the check's dashboard page, <base>/checks/<id>.
func (l Links) Check(id string) string {
	if l.Base == "" {
		return ""
	}
	return strings.TrimRight(l.Base, "/") + "/checks/" + url.PathEscape(id)
}

// SLO is the SLO's place on the SLO dashboard, <base>/slos#slo-<name>.
func (l Links) SLO(name string) string {
	if l.Base == "" {
		return ""
	}
	return strings.TrimRight(l.Base, "/") + "/slos#slo-" + url.PathEscape(name)
}

// Runbook is the runbook's page at its Mitigation section (what to do
// now), <base>/runbooks/<name>#mitigation ("" without a runbook). Every
// runbook has one: vigil validate says so.
func (l Links) Runbook(name string) string {
	if l.Base == "" || name == "" {
		return ""
	}
	return strings.TrimRight(l.Base, "/") + "/runbooks/" + url.PathEscape(name) + "#mitigation"
}

// Slack's Block Kit limits (https://api.slack.com/reference/block-kit/blocks),
// in characters, and the shorter bounds vigil keeps for free text so that
// every block stays inside them.
const (
	maxHeader  = 150  // header block: plain_text
	maxSection = 3000 // section block: text
	maxURL     = 3000 // button url

	maxErrorText = 300 // the error text quoted in a message
	maxName      = 200 // a check id, kind, owner or acknowledger in a text
	maxKey       = 80  // a sample key
)

// Render turns an alert into a Slack message: what happened (opened,
// resolved, reminder, silence expired), the check, its status and
// violation count, at most 5 sample keys, since when, the owner, and
// buttons to the check's dashboard page and its runbook.
func Render(m engine.Message, links Links) Payload {
	if m.SLO != nil {
		return renderSLO(m, links)
	}
	var head, summary string
	status := string(m.Status)
	switch m.Kind {
	case store.OutboxResolved:
		head = fmt.Sprintf("✅ Resolved: %s", m.Check)
		summary = fmt.Sprintf("*%s* passes again after %s (failing since %s; worst %s).",
			name(m.Check), span(m.Since, m.ResolvedAt), when(m.Since), plural(m.WorstViolations, "violation"))
	case store.OutboxReminder:
		head = fmt.Sprintf("🔔 Still %s: %s", failing(m), m.Check)
		summary = fmt.Sprintf("*%s* has been %s for %s and nobody has acknowledged it.", name(m.Check), failing(m), span(m.Since, m.At))
	case store.OutboxSilenceExpired:
		head = fmt.Sprintf("⏰ Silence ended: %s is still %s", m.Check, failing(m))
		summary = fmt.Sprintf("The silence on *%s* has expired and the incident is still open.", name(m.Check))
	default: // opened, and any kind this version does not know
		head = fmt.Sprintf("🔴 %s: %s", capital(failing(m)), m.Check)
		summary = fmt.Sprintf("*%s* (%s) is failing.", name(m.Check), name(m.CheckKind))
		if m.CheckBroken {
			summary = fmt.Sprintf("*%s* (%s) could not run: the check is broken, not (yet) the data.", name(m.Check), name(m.CheckKind))
		}
	}
	if m.Kind == store.OutboxResolved {
		status = string(checks.Pass)
	}
	fields := []Text{
		mrkdwn("*Status*\n" + esc(status)),
		mrkdwn("*Violations*\n" + fmt.Sprint(m.Violations)),
		mrkdwn("*Since*\n" + when(m.Since)),
		mrkdwn("*Owner*\n" + orNone(name(m.Owner))),
	}
	blocks := []Block{
		{Type: "header", Text: &Text{Type: "plain_text", Text: cut(head, maxHeader)}},
		{Type: "section", Text: ptr(mrkdwn(summary)), Fields: fields},
	}
	if m.Kind != store.OutboxResolved {
		if m.Error != "" {
			blocks = append(blocks, Block{Type: "section", Text: ptr(mrkdwn("*Error*\n```" + escCut(strings.ReplaceAll(redact(m.Error), "```", "'''"), maxErrorText) + "```"))})
		}
		if len(m.SampleKeys) > 0 {
			blocks = append(blocks, Block{Type: "section", Text: ptr(mrkdwn("*Sample*\n" + sample(m.SampleKeys, m.Violations)))})
		}
	}
	if b := buttons(m, links); len(b) > 0 {
		blocks = append(blocks, Block{Type: "actions", Elements: b})
	}
	ctx := fmt.Sprintf("vigil · incident #%d", m.IncidentID)
	if m.AckedBy != "" {
		ctx += " · acknowledged by " + name(m.AckedBy)
	}
	blocks = append(blocks, Block{Type: "context", Elements: []any{mrkdwn(ctx)}})
	return Payload{Text: fallback(m), Blocks: blocks}
}

// RenderGroup turns many opened alerts into one message listing them (at
// most 20 lines, then a count of the rest), for a burst of incidents. The
// lines are spread over as many sections as Block Kit's 3000 characters
// per section need.
func RenderGroup(ms []engine.Message, links Links) Payload {
	const maxLines = 20
	var lines []string
	for i, m := range ms {
		if i == maxLines {
			lines = append(lines, fmt.Sprintf("…and %d more", len(ms)-maxLines))
			break
		}
		var b strings.Builder
		fmt.Fprintf(&b, "• *%s* %s, %s · incident #%d", link(links.Check(m.Check), name(m.Check)), esc(string(m.Status)), plural(m.Violations, "violation"), m.IncidentID)
		if m.Owner != "" {
			fmt.Fprintf(&b, " · %s", name(m.Owner))
		}
		if u := links.Runbook(m.Runbook); u != "" {
			fmt.Fprintf(&b, " · %s", link(u, "runbook"))
		}
		lines = append(lines, b.String())
	}
	head := fmt.Sprintf("🔴 %d checks started failing", len(ms))
	blocks := []Block{{Type: "header", Text: &Text{Type: "plain_text", Text: head}}}
	var section []string
	size := 0
	for _, line := range lines {
		n := utf8.RuneCountInString(line)
		if len(section) > 0 && size+1+n > maxSection {
			blocks = append(blocks, Block{Type: "section", Text: ptr(mrkdwn(strings.Join(section, "\n")))})
			section, size = nil, 0
		}
		if len(section) > 0 {
			size++
		}
		section, size = append(section, line), size+n
	}
	if len(section) > 0 {
		blocks = append(blocks, Block{Type: "section", Text: ptr(mrkdwn(strings.Join(section, "\n")))})
	}
	blocks = append(blocks, Block{Type: "context", Elements: []any{mrkdwn("vigil · grouped to avoid a flood; each check's page has its details")}})
	return Payload{Text: "[vigil] " + head[len("🔴 "):], Blocks: blocks}
}

// link is a mrkdwn link <url|text>, or text alone when there is no url or
// it is too long to quote in a list (a very long check id).
func link(url, text string) string {
	if url == "" || utf8.RuneCountInString(url) > maxSection/10 {
		return text
	}
	return "<" + url + "|" + text + ">"
}

func fallback(m engine.Message) string {
	switch m.Kind {
	case store.OutboxResolved:
		return fmt.Sprintf("[vigil] resolved: %s passes again after %s (incident #%d)", cut(m.Check, maxName), span(m.Since, m.ResolvedAt), m.IncidentID)
	case store.OutboxReminder:
		return fmt.Sprintf("[vigil] reminder: %s still %s, %s (incident #%d)", cut(m.Check, maxName), m.Status, plural(m.Violations, "violation"), m.IncidentID)
	case store.OutboxSilenceExpired:
		return fmt.Sprintf("[vigil] silence expired: %s still %s, %s (incident #%d)", cut(m.Check, maxName), m.Status, plural(m.Violations, "violation"), m.IncidentID)
	}
	return fmt.Sprintf("[vigil] %s: %s %s, %s (incident #%d)", m.Kind, cut(m.Check, maxName), m.Status, plural(m.Violations, "violation"), m.IncidentID)
}

// buttons links the check's page and its runbook; a URL over Block Kit's
// 3000 characters (a very long check id) gets no button.
func buttons(m engine.Message, links Links) []any {
	var out []any
	if u := links.Check(m.Check); u != "" && utf8.RuneCountInString(u) <= maxURL {
		out = append(out, Button{Type: "button", Text: Text{Type: "plain_text", Text: "Open in vigil"}, URL: u})
	}
	if u := links.Runbook(m.Runbook); u != "" && utf8.RuneCountInString(u) <= maxURL {
		out = append(out, Button{Type: "button", Text: Text{Type: "plain_text", Text: "Runbook"}, URL: u})
	}
	return out
}

// failing says how the check is broken: "check broken" when an error
// opened the incident, else "failing".
func failing(m engine.Message) string {
	if m.CheckBroken {
		return "check broken"
	}
	return "failing"
}

func sample(keys []string, total int) string {
	parts := make([]string, 0, len(keys))
	for _, k := range keys[:min(len(keys), 5)] {
		parts = append(parts, "`"+escCut(strings.ReplaceAll(k, "`", "'"), maxKey)+"`")
	}
	s := strings.Join(parts, ", ")
	if more := total - len(parts); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// when formats t for Slack: the reader's local time, with a UTC fallback.
func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// span is how long from a to b, rounded to the minute (to the second
// under a minute).
func span(a, b time.Time) string {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return "an unknown time"
	}
	d := b.Sub(a)
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func orNone(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// esc escapes the three characters Slack's mrkdwn reserves.
func esc(s string) string { return mrkdwnEscaper.Replace(s) }

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escRune is esc of one character.
func escRune(r rune) string {
	switch r {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	}
	return string(r)
}

// name is free text (a check id, kind, owner or acknowledger) for mrkdwn:
// escaped and cut to maxName characters.
func name(s string) string { return escCut(s, maxName) }

// cut returns s when it has at most n characters, else its first n-1
// characters and "…": never part of a character.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// escCut returns s escaped for mrkdwn (esc) in at most n characters: when
// that is too long, as many whole characters of s as fit with "…", so
// neither a character nor an escape is ever split.
func escCut(s string, n int) string {
	if e := esc(s); utf8.RuneCountInString(e) <= n {
		return e
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		piece := escRune(r)
		if used += utf8.RuneCountInString(piece); used > n-1 {
			break
		}
		b.WriteString(piece)
	}
	return b.String() + "…"
}

func mrkdwn(s string) Text { return Text{Type: "mrkdwn", Text: s} }

func ptr[T any](v T) *T { return &v }
