package slack_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/store"
)

// blockKitProblems lists how p breaks Slack's Block Kit limits
// (https://api.slack.com/reference/block-kit/blocks and
// .../composition-objects#text): at most 50 blocks; a header's plain_text
// at most 150 characters; a section's text at most 3000 characters and at
// most 10 fields of at most 2000 characters each; a context at most 10
// elements; a button's text at most 75 characters and its url at most
// 3000. Every text must be whole characters (valid UTF-8, no U+FFFD from a
// split character) and, in mrkdwn, every '&' must begin one of the
// escapes Slack decodes (&amp; &lt; &gt;), so a cut never splits one.
func blockKitProblems(p slack.Payload) []string {
	var out []string
	check := func(where, text string, max int, mrkdwn bool) {
		if n := utf8.RuneCountInString(text); n > max {
			out = append(out, fmt.Sprintf("%s: %d characters, over %d", where, n, max))
		}
		if !utf8.ValidString(text) || strings.ContainsRune(text, utf8.RuneError) {
			out = append(out, fmt.Sprintf("%s: a character was split: %q", where, tail(text)))
		}
		if mrkdwn {
			for i := strings.IndexByte(text, '&'); i >= 0; i = next(text, i) {
				rest := text[i:]
				if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
					out = append(out, fmt.Sprintf("%s: a broken escape at %q", where, rest[:min(len(rest), 8)]))
				}
			}
		}
	}
	if !utf8.ValidString(p.Text) || strings.ContainsRune(p.Text, utf8.RuneError) {
		out = append(out, fmt.Sprintf("text: a character was split: %q", tail(p.Text)))
	}
	if len(p.Blocks) > 50 {
		out = append(out, fmt.Sprintf("%d blocks, over 50", len(p.Blocks)))
	}
	for i, b := range p.Blocks {
		where := fmt.Sprintf("blocks[%d] (%s)", i, b.Type)
		switch b.Type {
		case "header":
			check(where+".text", b.Text.Text, 150, false)
		case "section":
			if b.Text != nil {
				check(where+".text", b.Text.Text, 3000, b.Text.Type == "mrkdwn")
			}
			if len(b.Fields) > 10 {
				out = append(out, fmt.Sprintf("%s: %d fields, over 10", where, len(b.Fields)))
			}
			for j, f := range b.Fields {
				check(fmt.Sprintf("%s.fields[%d]", where, j), f.Text, 2000, f.Type == "mrkdwn")
			}
		case "context", "actions":
			if b.Type == "context" && len(b.Elements) > 10 {
				out = append(out, fmt.Sprintf("%s: %d elements, over 10", where, len(b.Elements)))
			}
			for j, e := range b.Elements {
				switch e := e.(type) {
				case slack.Text:
					check(fmt.Sprintf("%s.elements[%d]", where, j), e.Text, 3000, e.Type == "mrkdwn")
				case slack.Button:
					check(fmt.Sprintf("%s.elements[%d].text", where, j), e.Text.Text, 75, false)
					check(fmt.Sprintf("%s.elements[%d].url", where, j), e.URL, 3000, false)
				default:
					out = append(out, fmt.Sprintf("%s.elements[%d]: unexpected %T", where, j, e))
				}
			}
		default:
			out = append(out, fmt.Sprintf("%s: unexpected block type", where))
		}
	}
	return out
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '&')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func tail(s string) string {
	if len(s) > 12 {
		return s[len(s)-12:]
	}
	return s
}

// TestMessagesKeepBlockKitLimitsAtEveryLength renders every kind of alert
// with free text (owner, error, sample keys, acknowledger) made of
// multibyte characters and of characters mrkdwn escapes, at every length
// around each limit, and checks the message Slack would receive.
func TestMessagesKeepBlockKitLimitsAtEveryLength(t *testing.T) {
	var lengths []int
	for _, limit := range []int{75, 80, 150, 300, 2000, 3000} {
		for n := limit - 4; n <= limit+4; n++ {
			lengths = append(lengths, n)
		}
	}
	lengths = append(lengths, 1, 5000)
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	links := slack.Links{Base: "https://vigil.example"}
	for _, unit := range []string{"€", "𝄞", "é", "&", "<", "a€"} {
		for _, n := range lengths {
			text := strings.Repeat(unit, n)
			errText := strings.Repeat(unit, min(n, 320)) // the error block is cut at 300
			m := engine.Message{
				Check: "c-" + strings.Repeat("x", n), CheckKind: "sql", Owner: text, Runbook: "rb", IncidentID: 7,
				Status: checks.Error, OpenedStatus: checks.Error, Violations: 9, WorstViolations: 12, CheckBroken: true,
				Error: errText, SampleKeys: []string{text, text, text, text, text, text}, AckedBy: text,
				Since: at, OpenedAt: at, At: at.Add(time.Hour), ResolvedAt: at.Add(time.Hour),
			}
			for _, kind := range []store.OutboxKind{store.OutboxOpened, store.OutboxResolved, store.OutboxReminder, store.OutboxSilenceExpired} {
				m.Kind = kind
				p := slack.Render(m, links)
				if ps := blockKitProblems(roundTrip(t, p)); len(ps) > 0 {
					t.Fatalf("%s alert, %d × %q: %s", kind, n, unit, strings.Join(ps, "\n"))
				}
			}
			if n > 210 && n != 5000 {
				continue // free text in a group line is cut at 200 characters
			}
			group := make([]engine.Message, 25)
			for i := range group {
				group[i] = m
				group[i].Kind, group[i].Check = store.OutboxOpened, fmt.Sprintf("check-%d-%s", i, strings.Repeat("y", n%200))
			}
			if ps := blockKitProblems(roundTrip(t, slack.RenderGroup(group, links))); len(ps) > 0 {
				t.Fatalf("group of 25, owner %d × %q: %s", n, unit, strings.Join(ps, "\n"))
			}
		}
	}
}

// roundTrip sends p through JSON as the webhook would receive it.
func roundTrip(t *testing.T, p slack.Payload) slack.Payload {
	t.Helper()
	raw, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string            `json:"type"`
			Text     *slack.Text       `json:"text"`
			Fields   []slack.Text      `json:"fields"`
			Elements []json.RawMessage `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	p2 := slack.Payload{Text: out.Text}
	for _, b := range out.Blocks {
		nb := slack.Block{Type: b.Type, Text: b.Text, Fields: b.Fields}
		for _, e := range b.Elements {
			var probe struct {
				Type string `json:"type"`
			}
			json.Unmarshal(e, &probe)
			if probe.Type == "button" {
				var bt slack.Button
				json.Unmarshal(e, &bt)
				nb.Elements = append(nb.Elements, bt)
			} else {
				var tx slack.Text
				json.Unmarshal(e, &tx)
				nb.Elements = append(nb.Elements, tx)
			}
		}
		p2.Blocks = append(p2.Blocks, nb)
	}
	return p2
}
