package web

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/vigilhq/vigil/internal/demo"
	"github.com/vigilhq/vigil/internal/notify/slack"
)

// The signals panel shows each captured Slack message as Slack would: its
// Block Kit blocks laid out as Slack lays them out, and their mrkdwn
// (bold, italics, strike, code, code blocks, links, dates) as HTML.

// slackMessageView is one Slack message, ready to lay out.
type slackMessageView struct {
	At       when
	Fallback string // the notification text
	Blocks   []slackBlockView
	JSON     string // the payload as posted
}

// slackBlockView is one Block Kit block: Type says which fields are set.
type slackBlockView struct {
	Type     string          // header, section, context, actions, divider, or other
	Text     template.HTML   // header, section
	Fields   []template.HTML // section
	Elements []template.HTML // context
	Buttons  []slackButton   // actions
}

// slackButton is a link button of an actions block.
type slackButton struct {
	Text, URL string
}

// slackMessage lays out a captured message.
func slackMessage(m demo.SlackMessage, vc viewClock) slackMessageView {
	v := slackMessageView{At: vc.at(m.At), Fallback: m.Payload.Text, JSON: m.JSON}
	for _, b := range m.Payload.Blocks {
		v.Blocks = append(v.Blocks, slackBlock(b))
	}
	return v
}

func slackBlock(b slack.Block) slackBlockView {
	v := slackBlockView{Type: b.Type}
	switch b.Type {
	case "header":
		if b.Text != nil {
			v.Text = slackPlain(b.Text.Text)
		}
	case "section":
		if b.Text != nil {
			v.Text = slackText(*b.Text)
		}
		for _, f := range b.Fields {
			v.Fields = append(v.Fields, slackText(f))
		}
	case "context":
		for _, e := range b.Elements {
			el := slackElementOf(e)
			if el.Type == "image" {
				v.Elements = append(v.Elements, slackPlain(el.AltText))
				continue
			}
			v.Elements = append(v.Elements, slackText(slack.Text{Type: el.Type, Text: el.text()}))
		}
	case "actions":
		for _, e := range b.Elements {
			if el := slackElementOf(e); el.Type == "button" {
				v.Buttons = append(v.Buttons, slackButton{Text: el.text(), URL: el.URL})
			}
		}
	case "divider":
	default:
		v.Type = "other"
		v.Text = slackPlain("[" + b.Type + " block]")
	}
	return v
}

// slackElement is a block element: a text object, a button or an image.
type slackElement struct {
	Type    string          `json:"type"`
	Text    json.RawMessage `json:"text"` // a string, or a text object for a button
	URL     string          `json:"url"`
	AltText string          `json:"alt_text"`
}

// slackElementOf reads an element as decoded from JSON (a map) or built
// in Go (slack.Text, slack.Button); the zero element when it is neither.
func slackElementOf(e any) slackElement {
	var el slackElement
	if b, err := json.Marshal(e); err == nil {
		_ = json.Unmarshal(b, &el) // not an object: the zero element
	}
	return el
}

// text is the element's text: the string, or the text object's text.
func (el slackElement) text() string {
	var s string
	if json.Unmarshal(el.Text, &s) == nil {
		return s
	}
	var t slack.Text
	if json.Unmarshal(el.Text, &t) == nil {
		return t.Text
	}
	return ""
}

// slackText renders a text object: mrkdwn as Slack formats it, anything
// else as plain text.
func slackText(t slack.Text) template.HTML {
	if t.Type == "mrkdwn" {
		return slackMrkdwn(t.Text)
	}
	return slackPlain(t.Text)
}

// slackPlain renders plain text, keeping its line breaks.
func slackPlain(s string) template.HTML {
	return template.HTML(strings.ReplaceAll(html.EscapeString(s), "\n", "<br>"))
}

var (
	slackCodeBlock  = regexp.MustCompile("(?s)```(.*?)```")
	slackInlineCode = regexp.MustCompile("`([^`\n]+)`")
	slackToken      = regexp.MustCompile(`<([^<>\n]*)>`)
	slackHole       = regexp.MustCompile("\x00([0-9]+)\x00")
	slackEntities   = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")
)

// slackMrkdwn renders Slack mrkdwn as HTML: ```code blocks```, `code`,
// <url|links>, <!date^…|dates> (their fallback text), mentions, *bold*,
// _italics_ and ~strike~ (at word boundaries, within a line), and line
// breaks. Everything else is escaped text: the result is safe to put in
// a page whatever s holds.
func slackMrkdwn(s string) template.HTML {
	s = strings.ReplaceAll(s, "\x00", "")
	// Code and links become holes first, so that nothing inside them is
	// formatted and formatting may wrap them (*<url|name>*).
	var holes []string
	hole := func(h string) string {
		holes = append(holes, h)
		return "\x00" + strconv.Itoa(len(holes)-1) + "\x00"
	}
	s = slackCodeBlock.ReplaceAllStringFunc(s, func(m string) string {
		code := strings.TrimPrefix(slackCodeBlock.FindStringSubmatch(m)[1], "\n")
		return hole(`<pre class="slack-pre">` + html.EscapeString(slackEntities.Replace(code)) + `</pre>`)
	})
	s = slackInlineCode.ReplaceAllStringFunc(s, func(m string) string {
		return hole(`<code class="slack-code">` + html.EscapeString(slackEntities.Replace(slackInlineCode.FindStringSubmatch(m)[1])) + `</code>`)
	})
	s = slackToken.ReplaceAllStringFunc(s, func(m string) string {
		return hole(slackTokenHTML(slackToken.FindStringSubmatch(m)[1]))
	})
	s = html.EscapeString(slackEntities.Replace(s))
	s = slackEmphasis(s, '*', "strong")
	s = slackEmphasis(s, '_', "em")
	s = slackEmphasis(s, '~', "del")
	s = strings.ReplaceAll(s, "\n", "<br>")
	s = slackHole.ReplaceAllStringFunc(s, func(m string) string {
		i, err := strconv.Atoi(slackHole.FindStringSubmatch(m)[1])
		if err != nil || i >= len(holes) {
			return ""
		}
		return holes[i]
	})
	return template.HTML(s)
}

// slackTokenHTML renders what stood between < and >: a date (its
// fallback), a special mention, a user or channel mention, or a link
// (only http, https and mailto become links).
func slackTokenHTML(tok string) string {
	target, label, hasLabel := strings.Cut(tok, "|")
	label = slackEntities.Replace(label)
	switch {
	case strings.HasPrefix(target, "!date^"):
		if !hasLabel {
			label = "a date"
		}
		return `<time class="slack-date">` + html.EscapeString(label) + `</time>`
	case strings.HasPrefix(target, "!"):
		name := strings.TrimPrefix(target, "!")
		if i := strings.IndexByte(name, '^'); i >= 0 {
			name = name[:i]
		}
		return `<span class="slack-mention">@` + html.EscapeString(name) + `</span>`
	case strings.HasPrefix(target, "@"), strings.HasPrefix(target, "#"):
		if !hasLabel {
			label = target[1:]
		}
		return `<span class="slack-mention">` + html.EscapeString(target[:1]+label) + `</span>`
	}
	target = slackEntities.Replace(target)
	if !hasLabel {
		label = target
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto") {
		return html.EscapeString(label)
	}
	return fmt.Sprintf(`<a href="%s">%s</a>`, html.EscapeString(u.String()), html.EscapeString(label))
}

// slackEmphasis wraps each mark…mark span of s in tag, as Slack does: the
// opening mark follows the start or a non-word character and precedes a
// non-space; the closing mark, on the same line, follows a non-space and
// precedes the end or a non-word character.
func slackEmphasis(s string, mark byte, tag string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == mark && (i == 0 || !wordByte(s[i-1])) && i+1 < len(s) && !spaceByte(s[i+1]) && s[i+1] != mark {
			if j := slackClosing(s, i+1, mark); j > 0 {
				b.WriteString("<" + tag + ">" + s[i+1:j] + "</" + tag + ">")
				i = j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// slackClosing returns the index of the mark closing a span whose text
// starts at from, or -1.
func slackClosing(s string, from int, mark byte) int {
	for k := from + 1; k < len(s); k++ {
		switch {
		case s[k] == '\n':
			return -1
		case s[k] == mark && !spaceByte(s[k-1]) && (k+1 == len(s) || !wordByte(s[k+1])):
			return k
		}
	}
	return -1
}

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func spaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
