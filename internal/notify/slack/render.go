package slack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

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

// Runbook is the runbook's page at its Mitigation section (what to do
// now), <base>/runbooks/<name>#mitigation ("" without a runbook). Every
// runbook has one: vigil validate says so.
func (l Links) Runbook(name string) string {
	if l.Base == "" || name == "" {
		return ""
	}
	return strings.TrimRight(l.Base, "/") + "/runbooks/" + url.PathEscape(name) + "#mitigation"
}

// maxErrorText bounds the error text quoted in a message.
const maxErrorText = 300

// Render turns an alert into a Slack message: what happened (opened,
// resolved, reminder, silence expired), the check, its status and
// violation count, at most 5 sample keys, since when, the owner, and
// buttons to the check's dashboard page and its runbook.
func Render(m engine.Message, links Links) Payload {
	var head, summary string
	status := string(m.Status)
	switch m.Kind {
	case store.OutboxResolved:
		head = fmt.Sprintf("✅ Resolved: %s", m.Check)
		summary = fmt.Sprintf("*%s* passes again after %s (failing since %s; worst %s).",
			esc(m.Check), span(m.Since, m.ResolvedAt), when(m.Since), plural(m.WorstViolations, "violation"))
	case store.OutboxReminder:
		head = fmt.Sprintf("🔔 Still %s: %s", failing(m), m.Check)
		summary = fmt.Sprintf("*%s* has been %s for %s and nobody has acknowledged it.", esc(m.Check), failing(m), span(m.Since, m.At))
	case store.OutboxSilenceExpired:
		head = fmt.Sprintf("⏰ Silence ended: %s is still %s", m.Check, failing(m))
		summary = fmt.Sprintf("The silence on *%s* has expired and the incident is still open.", esc(m.Check))
	default: // opened, and any kind this version does not know
		head = fmt.Sprintf("🔴 %s: %s", capital(failing(m)), m.Check)
		summary = fmt.Sprintf("*%s* (%s) is failing.", esc(m.Check), esc(m.CheckKind))
		if m.CheckBroken {
			summary = fmt.Sprintf("*%s* (%s) could not run: the check is broken, not (yet) the data.", esc(m.Check), esc(m.CheckKind))
		}
	}
	if m.Kind == store.OutboxResolved {
		status = string(checks.Pass)
	}
	fields := []Text{
		mrkdwn("*Status*\n" + esc(status)),
		mrkdwn("*Violations*\n" + fmt.Sprint(m.Violations)),
		mrkdwn("*Since*\n" + when(m.Since)),
		mrkdwn("*Owner*\n" + orNone(esc(m.Owner))),
	}
	blocks := []Block{
		{Type: "header", Text: &Text{Type: "plain_text", Text: cut(head, 150)}},
		{Type: "section", Text: ptr(mrkdwn(summary)), Fields: fields},
	}
	if m.Kind != store.OutboxResolved {
		if m.Error != "" {
			blocks = append(blocks, Block{Type: "section", Text: ptr(mrkdwn("*Error*\n```" + esc(strings.ReplaceAll(cut(redact(m.Error), maxErrorText), "```", "'''")) + "```"))})
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
		ctx += " · acknowledged by " + esc(m.AckedBy)
	}
	blocks = append(blocks, Block{Type: "context", Elements: []any{mrkdwn(ctx)}})
	return Payload{Text: fallback(m), Blocks: blocks}
}

// RenderGroup turns many opened alerts into one message listing them (at
// most 20 lines, then a count of the rest), for a burst of incidents.
func RenderGroup(ms []engine.Message, links Links) Payload {
	const maxLines = 20
	var b strings.Builder
	for i, m := range ms {
		if i == maxLines {
			fmt.Fprintf(&b, "…and %d more\n", len(ms)-maxLines)
			break
		}
		name := esc(m.Check)
		if u := links.Check(m.Check); u != "" {
			name = "<" + u + "|" + name + ">"
		}
		fmt.Fprintf(&b, "• *%s* %s, %s", name, esc(string(m.Status)), plural(m.Violations, "violation"))
		if m.Owner != "" {
			fmt.Fprintf(&b, " · %s", esc(m.Owner))
		}
		if u := links.Runbook(m.Runbook); u != "" {
			fmt.Fprintf(&b, " · <%s|runbook>", u)
		}
		b.WriteString("\n")
	}
	head := fmt.Sprintf("🔴 %d checks started failing", len(ms))
	return Payload{
		Text: "[vigil] " + head[len("🔴 "):],
		Blocks: []Block{
			{Type: "header", Text: &Text{Type: "plain_text", Text: head}},
			{Type: "section", Text: ptr(mrkdwn(strings.TrimRight(b.String(), "\n")))},
			{Type: "context", Elements: []any{mrkdwn("vigil · grouped to avoid a flood; each check's page has its details")}},
		},
	}
}

func fallback(m engine.Message) string {
	switch m.Kind {
	case store.OutboxResolved:
		return fmt.Sprintf("[vigil] resolved: %s passes again after %s (incident #%d)", m.Check, span(m.Since, m.ResolvedAt), m.IncidentID)
	case store.OutboxReminder:
		return fmt.Sprintf("[vigil] reminder: %s still %s, %s (incident #%d)", m.Check, m.Status, plural(m.Violations, "violation"), m.IncidentID)
	case store.OutboxSilenceExpired:
		return fmt.Sprintf("[vigil] silence expired: %s still %s, %s (incident #%d)", m.Check, m.Status, plural(m.Violations, "violation"), m.IncidentID)
	}
	return fmt.Sprintf("[vigil] %s: %s %s, %s (incident #%d)", m.Kind, m.Check, m.Status, plural(m.Violations, "violation"), m.IncidentID)
}

func buttons(m engine.Message, links Links) []any {
	var out []any
	if u := links.Check(m.Check); u != "" {
		out = append(out, Button{Type: "button", Text: Text{Type: "plain_text", Text: "Open in vigil"}, URL: u})
	}
	if u := links.Runbook(m.Runbook); u != "" {
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
		parts = append(parts, "`"+esc(strings.ReplaceAll(cut(k, 80), "`", "'"))+"`")
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
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s[:n])
	return string(r[:len(r)-1]) + "…"
}

func mrkdwn(s string) Text { return Text{Type: "mrkdwn", Text: s} }

func ptr[T any](v T) *T { return &v }
