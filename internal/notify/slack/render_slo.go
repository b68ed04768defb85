package slack

import (
	"fmt"
	"unicode/utf8"

	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/store"
)

// renderSLO turns an SLO alert into a Slack message: what happened
// (opened, escalated to a page, resolved), the SLO, the rule that fired,
// the burn rates over the alert windows, the budget left and the
// attainment, and a button to the SLO dashboard.
func renderSLO(m engine.Message, links Links) Payload {
	a := m.SLO
	what := fmt.Sprintf("%s (%s over %s)", a.Name, slo.Percent(a.Objective), a.Window)
	var head, summary, fallback string
	switch m.Kind {
	case store.OutboxSLOResolved:
		head = "✅ SLO recovered: " + a.Name
		summary = fmt.Sprintf("*%s* burns its error budget slowly enough again after %s (the %s opened at %s).",
			name(what), span(m.OpenedAt, m.ResolvedAt), esc(a.Severity), when(m.OpenedAt))
		fallback = fmt.Sprintf("[vigil] SLO recovered: %s after %s", cut(a.Name, maxName), span(m.OpenedAt, m.ResolvedAt))
	case store.OutboxSLOEscalated:
		head = "🔥 SLO page (was a ticket): " + a.Name
		summary = fmt.Sprintf("*%s* now burns its error budget fast enough to page: %s.", name(what), esc(a.Rule))
		fallback = fmt.Sprintf("[vigil] SLO page: %s, %s (escalated from a ticket)", cut(a.Name, maxName), a.Rule)
	default: // slo_opened
		icon := "🎫"
		if a.Severity == "page" {
			icon = "🔥"
		}
		head = fmt.Sprintf("%s SLO %s: %s burns its error budget", icon, a.Severity, a.Name)
		summary = fmt.Sprintf("*%s* is burning its error budget too fast: %s.", name(what), esc(a.Rule))
		fallback = fmt.Sprintf("[vigil] SLO %s: %s, %s", a.Severity, cut(a.Name, maxName), a.Rule)
	}
	fields := []Text{
		mrkdwn("*Severity*\n" + esc(a.Severity)),
		mrkdwn("*Budget left*\n" + slo.Percent(100*a.BudgetLeft)),
		mrkdwn("*Attainment*\n" + slo.Percent(a.Attainment)),
		mrkdwn("*Burn rate*\n" + burns(a.BurnRates)),
	}
	blocks := []Block{
		{Type: "header", Text: &Text{Type: "plain_text", Text: cut(head, maxHeader)}},
		{Type: "section", Text: ptr(mrkdwn(summary)), Fields: fields},
	}
	if u := links.SLO(a.Name); u != "" && utf8.RuneCountInString(u) <= maxURL {
		blocks = append(blocks, Block{Type: "actions", Elements: []any{Button{Type: "button", Text: Text{Type: "plain_text", Text: "Open SLOs"}, URL: u}}})
	}
	blocks = append(blocks, Block{Type: "context", Elements: []any{mrkdwn(fmt.Sprintf("vigil · SLO alert #%d", m.IncidentID))}})
	return Payload{Text: fallback, Blocks: blocks}
}

// burns lists the burn rates of the alert windows: "5m 20.1× · 1h 15×".
func burns(rates map[string]float64) string {
	out := ""
	for _, w := range []string{"5m", "30m", "1h", "6h"} {
		r, ok := rates[w]
		if !ok {
			continue
		}
		if out != "" {
			out += " · "
		}
		out += fmt.Sprintf("%s %.3g×", w, r)
	}
	if out == "" {
		return "—"
	}
	return out
}
