package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/checks"
)

var checkIDPattern = regexp.MustCompile(`^[a-z0-9-]+$`)

func (l *loader) checks(n *yaml.Node, line int) {
	if isNull(n) {
		return // reported as a missing required field
	}
	if n.Kind != yaml.SequenceNode {
		l.addf(n.Line, "checks must be a list, got %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		l.addf(n.Line, "checks must list at least one check")
	}
	firstLine := map[string]int{}
	for i, item := range n.Content {
		if r := resolve(item); r == nil || r.Kind != yaml.MappingNode {
			l.addf(item.Line, "checks[%d] must be a mapping, got %s", i, kindName(item))
			continue
		}
		if c, ok := l.check(resolve(item), i, firstLine); ok {
			l.cfg.Checks = append(l.cfg.Checks, c)
		}
	}
}

// check decodes and validates one entry of `checks`. ok is false when the
// entry has no id.
func (l *loader) check(item *yaml.Node, index int, firstLine map[string]int) (Check, bool) {
	label := fmt.Sprintf("checks[%d]", index)
	f := l.fieldsOf(item, item.Line, label, "in "+label, label+": ")
	c := Check{
		Schedule:     DefaultSchedule,
		Timeout:      DefaultTimeout,
		FailAfter:    1,
		ResolveAfter: 1,
		Line:         item.Line,
	}
	f.str("id", &c.ID)
	if c.ID == "" {
		l.addf(item.Line, "%s: missing id", label)
	} else {
		label = fmt.Sprintf("check %q", c.ID)
		f.where, f.prefix = "in "+label, label+": "
		if !checkIDPattern.MatchString(c.ID) {
			f.problem("id", "id must match %s", checkIDPattern)
		}
		if first, dup := firstLine[c.ID]; dup {
			f.problem("id", "duplicate id (first defined at line %d)", first)
		} else {
			firstLine[c.ID] = f.keyLine("id")
		}
	}

	f.str("kind", &c.Kind)
	f.str("datasource", &c.Datasource)
	f.str("schedule", &c.Schedule)
	f.duration("timeout", &c.Timeout)
	f.str("runbook", &c.Runbook)
	f.str("owner", &c.Owner)
	f.strings("tags", &c.Tags)
	if f.has("owner") {
		c.OwnerLine = f.keyLine("owner")
	}
	c.TagLines = f.elementLines("tags")
	f.int("fail_after", &c.FailAfter)
	f.int("resolve_after", &c.ResolveAfter)

	if sn := f.value("schedule"); sn == nil || (sn.Kind == yaml.ScalarNode && !l.bad[sn]) {
		if err := parseSchedule(c.Schedule); err != nil {
			f.problem("schedule", "schedule: invalid cron spec %q: %v", c.Schedule, err)
		}
	}
	if c.Timeout <= 0 {
		f.problem("timeout", "timeout: must be positive, got %s", c.Timeout)
	}
	for _, k := range []struct {
		key string
		n   int
	}{{"fail_after", c.FailAfter}, {"resolve_after", c.ResolveAfter}} {
		if k.n < 1 {
			f.problem(k.key, "%s: must be at least 1, got %d", k.key, k.n)
		}
	}

	kind, known := l.kinds[c.Kind]
	switch {
	case c.Kind == "":
		f.problem("kind", "missing kind (known: %s)", l.knownKinds())
	case !known:
		f.problem("kind", "unknown kind %q (known: %s)", c.Kind, l.knownKinds())
	}
	l.checkDatasource(f, c, kind, known)
	if known {
		c.Spec = l.spec(f, kind, item)
	}
	return c, c.ID != ""
}

// parseSchedule validates a robfig/cron spec (which panics on some
// malformed "TZ=" prefixes).
func parseSchedule(spec string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed spec")
		}
	}()
	_, err = cron.ParseStandard(spec)
	return err
}

func (l *loader) knownKinds() string {
	names := l.kinds.Names()
	if len(names) == 0 {
		return "none registered"
	}
	return strings.Join(names, ", ")
}

// checkDatasource validates the check's datasource against its kind's
// Needs. A datasource whose own driver is invalid was reported already.
func (l *loader) checkDatasource(f *fields, c Check, kind checks.Kind, known bool) {
	if c.Datasource == "" {
		if !known {
			return
		}
		switch kind.Needs {
		case checks.NeedsSQL:
			f.problem("kind", "kind %q needs a datasource (postgres, mysql or sqlite)", kind.Name)
		case checks.NeedsSQS:
			f.problem("kind", "kind %q needs a datasource (sqs)", kind.Name)
		case checks.NeedsS3:
			f.problem("kind", "kind %q needs a datasource (s3)", kind.Name)
		}
		return
	}
	if known && kind.Needs == checks.NeedsNone {
		f.problem("datasource", "kind %q takes no datasource", kind.Name)
		return
	}
	d, ok := l.cfg.Datasources[c.Datasource]
	if !ok {
		f.problem("datasource", "unknown datasource %q (defined: %s)", c.Datasource, l.definedDatasources())
		return
	}
	if !known {
		return
	}
	switch {
	case kind.Needs == checks.NeedsSQL && d.IsAWS():
		f.problem("datasource", "kind %q needs a postgres, mysql or sqlite datasource; %q is %s", kind.Name, d.Name, d.Driver)
	case kind.Needs == checks.NeedsSQS && (d.IsSQL() || d.Driver == DriverS3):
		f.problem("datasource", "kind %q needs an sqs datasource; %q is %s", kind.Name, d.Name, d.Driver)
	case kind.Needs == checks.NeedsS3 && (d.IsSQL() || d.Driver == DriverSQS):
		f.problem("datasource", "kind %q needs an s3 datasource; %q is %s", kind.Name, d.Name, d.Driver)
	}
}

func (l *loader) definedDatasources() string {
	if len(l.cfg.Datasources) == 0 {
		return "none"
	}
	names := make([]string, 0, len(l.cfg.Datasources))
	for n := range l.cfg.Datasources {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
