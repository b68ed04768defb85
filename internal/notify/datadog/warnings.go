package datadog

import (
	"fmt"

	"github.com/vigilhq/vigil/internal/config"
)

// ConfigWarnings lists, for `vigil validate`, every configured value that
// reaches Datadog as a tag and that Datadog's tag rules make vigil rewrite
// (SanitizeTag): each check's owner and team tag, and sinks.datadog.tags.
// Each warning names the line and the tag that will be sent. A rewrite is
// not an error: the metrics are still sent, with the rewritten tag.
func ConfigWarnings(cfg *config.Config) []config.Problem {
	var out []config.Problem
	warn := func(line int, format string, args ...any) {
		out = append(out, config.Problem{File: cfg.Path, Line: line, Msg: "warning: " + fmt.Sprintf(format, args...)})
	}
	for i, t := range cfg.Sinks.Datadog.Tags {
		switch s := SanitizeTag(t); {
		case s == "":
			warn(lineAt(cfg.Sinks.Datadog.TagLines, i), "sinks.datadog.tags: %q has no letter: Datadog's tag rules leave nothing, so it is not sent", t)
		case s != t:
			warn(lineAt(cfg.Sinks.Datadog.TagLines, i), "sinks.datadog.tags: %q is sent to Datadog as %q (Datadog's tag rules)", t, s)
		}
	}
	for _, c := range cfg.Checks {
		if c.Owner != "" {
			if s := Tag("owner", c.Owner); s != "owner:"+c.Owner {
				warn(c.OwnerLine, "check %q: owner %q is sent to Datadog as tag %q (Datadog's tag rules)", c.ID, c.Owner, s)
			}
		}
		team := Team(c.Tags)
		if team == "" {
			continue
		}
		for i, t := range c.Tags {
			if t == "team:"+team {
				if s := Tag("team", team); s != t {
					warn(lineAt(c.TagLines, i), "check %q: tag %q is sent to Datadog as %q (Datadog's tag rules)", c.ID, t, s)
				}
				break
			}
		}
	}
	return out
}

func lineAt(lines []int, i int) int {
	if i < len(lines) {
		return lines[i]
	}
	return 0
}
