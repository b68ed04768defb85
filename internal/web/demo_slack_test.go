package web

import (
	"encoding/json"
	"html/template"
	"testing"

	"github.com/vigilhq/vigil/internal/notify/slack"
)

// TestSlackMrkdwn renders Slack's mrkdwn as Slack formats it, and never
// lets the text put markup of its own on the page.
func TestSlackMrkdwn(t *testing.T) {
	tests := []struct {
		name, in string
		want     template.HTML
	}{
		{name: "plain", in: "all good", want: "all good"},
		{name: "bold italic strike", in: "*bold* _it_ ~gone~", want: "<strong>bold</strong> <em>it</em> <del>gone</del>"},
		{name: "nested", in: "*bold _and it_*", want: "<strong>bold <em>and it</em></strong>"},
		{name: "inside words stays", in: "policy_id and snake_case_name, 2*3*4", want: "policy_id and snake_case_name, 2*3*4"},
		{name: "spaces after the mark", in: "* not bold*", want: "* not bold*"},
		{name: "not across lines", in: "*a\nb*", want: "*a<br>b*"},
		{name: "line breaks", in: "*Status*\nfail", want: "<strong>Status</strong><br>fail"},
		{name: "inline code is not formatted", in: "`*P-1*_x_` done", want: `<code class="slack-code">*P-1*_x_</code> done`},
		{name: "code block", in: "*Error*\n```\ndial tcp: <refused> & gone\n```", want: "<strong>Error</strong><br>" + `<pre class="slack-pre">dial tcp: &lt;refused&gt; &amp; gone` + "\n</pre>"},
		{name: "entities", in: "a &lt; b &amp;&amp; c &gt; d", want: "a &lt; b &amp;&amp; c &gt; d"},
		// An unescaped < opens a control sequence in Slack: not a link, so its text.
		{name: "raw html is no markup", in: `<script>alert(1)</script> "q" 'a'`, want: "scriptalert(1)/script &#34;q&#34; &#39;a&#39;"},
		{name: "link with label", in: "<https://x.test/checks/a?b=1&amp;c=2|the check>", want: `<a href="https://x.test/checks/a?b=1&amp;c=2">the check</a>`},
		{name: "bare link", in: "see <http://x.test/r>", want: `see <a href="http://x.test/r">http://x.test/r</a>`},
		{name: "bold link", in: "• *<http://x.test/c|quote-api>* fail", want: `• <strong><a href="http://x.test/c">quote-api</a></strong> fail`},
		{name: "javascript link is text", in: "<javascript:alert(1)|click>", want: "click"},
		{name: "markup in a label is no markup", in: `<http://x.test|<b>"hi"</b>>`, want: `&lt;http://x.test|b&#34;hi&#34;/b&gt;`},
		{name: "date shows its fallback", in: "<!date^1741520400^{date_short_pretty} {time}|2025-03-09 11:40 UTC>", want: `<time class="slack-date">2025-03-09 11:40 UTC</time>`},
		{name: "special mention", in: "<!here> look", want: `<span class="slack-mention">@here</span> look`},
		{name: "user and channel", in: "<@U123> in <#C9|alerts>", want: `<span class="slack-mention">@U123</span> in <span class="slack-mention">#alerts</span>`},
		{name: "NUL cannot forge a hole", in: "\x000\x00 `x`", want: `0 <code class="slack-code">x</code>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slackMrkdwn(tt.in); got != tt.want {
				t.Errorf("slackMrkdwn(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestSlackBlock lays out every block type as decoded from a posted
// payload (elements arrive as JSON objects).
func TestSlackBlock(t *testing.T) {
	var p slack.Payload
	if err := json.Unmarshal([]byte(`{"text":"fallback","blocks":[
		{"type":"header","text":{"type":"plain_text","text":"🔴 <Failing>: *x*"}},
		{"type":"section","text":{"type":"mrkdwn","text":"*x* fails"},"fields":[{"type":"mrkdwn","text":"*Status*\nfail"},{"type":"plain_text","text":"*raw*"}]},
		{"type":"context","elements":[{"type":"mrkdwn","text":"_one_"},{"type":"image","image_url":"http://x.test/i.png","alt_text":"logo"}]},
		{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Open"},"url":"http://x.test/c"}]},
		{"type":"divider"},
		{"type":"rich_text"}]}`), &p); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want slackBlockView
	}{
		{name: "header is plain text", want: slackBlockView{Type: "header", Text: "🔴 &lt;Failing&gt;: *x*"}},
		{name: "section with fields", want: slackBlockView{Type: "section", Text: "<strong>x</strong> fails", Fields: []template.HTML{"<strong>Status</strong><br>fail", "*raw*"}}},
		{name: "context", want: slackBlockView{Type: "context", Elements: []template.HTML{"<em>one</em>", "logo"}}},
		{name: "actions", want: slackBlockView{Type: "actions", Buttons: []slackButton{{Text: "Open", URL: "http://x.test/c"}}}},
		{name: "divider", want: slackBlockView{Type: "divider"}},
		{name: "unknown", want: slackBlockView{Type: "other", Text: "[rich_text block]"}},
	}
	if len(p.Blocks) != len(tests) {
		t.Fatalf("%d blocks decoded", len(p.Blocks))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := json.Marshal(slackBlock(p.Blocks[i]))
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	// Built in Go (as the Slack sink does) the same elements read the same.
	b := slackBlock(slack.Block{Type: "actions", Elements: []any{slack.Button{Type: "button", Text: slack.Text{Type: "plain_text", Text: "Runbook"}, URL: "http://x.test/r"}}})
	if len(b.Buttons) != 1 || b.Buttons[0] != (slackButton{Text: "Runbook", URL: "http://x.test/r"}) {
		t.Errorf("Go-built button: %+v", b)
	}
}
