package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/checks"
)

var checkIDPattern = regexp.MustCompile(`^[a-z0-9-]+$`)

func (l *loader) checks(n *yaml.Node) {
	if isNull(n) {
		return // reported as a missing required field
	}
	if r := resolve(n); r.Kind != yaml.SequenceNode {
		l.addf(n.Line, "checks must be a list, got %s", kindName(n))
		return
	}
	n = resolve(n)
	if len(n.Content) == 0 {
		l.addf(n.Line, "checks must list at least one check")
	}
	firstLine := map[string]int{}
	for i, item := range n.Content {
		if c, ok := l.check(item, i, firstLine); ok {
			l.cfg.Checks = append(l.cfg.Checks, c)
		}
	}
}

// check decodes and validates one entry of `checks`: the fields every kind
// shares into Check, the others into its kind's Spec. ok is false when the
// entry has no id.
func (l *loader) check(item *yaml.Node, index int, firstLine map[string]int) (Check, bool) {
	label := fmt.Sprintf("checks[%d]", index)
	item = resolve(item)
	if item == nil || item.Kind != yaml.MappingNode {
		l.addf(item.Line, "%s must be a mapping, got %s", label, kindName(item))
		return Check{}, false
	}
	// Split the entry: shared fields, then the kind's.
	shared, _ := structFields(reflect.TypeOf(Check{}))
	common := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column}
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column}
	var id *yaml.Node
	for _, p := range l.mappingPairs(item) {
		if _, ok := shared[p.key.Value]; ok {
			common.Content = append(common.Content, p.key, p.value)
		} else {
			rest.Content = append(rest.Content, p.key, p.value)
		}
		if p.key.Value == "id" {
			id = resolve(p.value)
		}
	}
	if id != nil && id.Kind == yaml.ScalarNode && id.Value != "" && !l.bad[id] {
		label = fmt.Sprintf("check %q", id.Value)
	}

	c := Check{
		Schedule:     DefaultSchedule,
		Timeout:      DefaultTimeout,
		FailAfter:    1,
		ResolveAfter: 1,
	}
	f := l.decode(common, item.Line, label, false, &c)
	c.Line = item.Line
	if f.has("owner") {
		c.OwnerLine = f.lineOf("owner")
	}
	for i := range c.Tags {
		c.TagLines = append(c.TagLines, f.lineOf(fmt.Sprintf("tags[%d]", i)))
	}
	if c.ID == "" {
		if !f.reported("id") {
			l.addf(item.Line, "%s: missing id", label)
		}
	} else {
		if !checkIDPattern.MatchString(c.ID) {
			f.problem("id", "id must match %s", checkIDPattern)
		}
		if first, dup := firstLine[c.ID]; dup {
			f.problem("id", "duplicate id (first defined at line %d)", first)
		} else {
			firstLine[c.ID] = f.lineOf("id")
		}
	}
	if !f.reported("schedule") {
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
	case f.reported("kind"):
	case c.Kind == "":
		f.problem("kind", "missing kind (known: %s)", l.knownKinds())
	case !known:
		f.problem("kind", "unknown kind %q (known: %s)", c.Kind, l.knownKinds())
	}
	l.checkDatasource(f, c, kind, known)
	if known {
		c.Spec = l.spec(rest, kind, item.Line, label)
	} else {
		for i := 0; i+1 < len(rest.Content); i += 2 {
			l.unknownField(rest.Content[i], "in "+label)
		}
	}
	return c, c.ID != ""
}

// spec decodes a check's kind-specific fields strictly into kind.NewSpec()
// and validates it. It returns nil when the fields could not be decoded or
// the spec reported problems.
func (l *loader) spec(rest *yaml.Node, kind checks.Kind, line int, label string) checks.Spec {
	var spec checks.Spec
	if kind.NewSpec != nil {
		spec = kind.NewSpec()
	}
	if spec == nil {
		for i := 0; i+1 < len(rest.Content); i += 2 {
			l.unknownField(rest.Content[i], "in "+label)
		}
		return nil
	}
	before := len(l.problems)
	f := l.decode(rest, line, label, false, spec)
	if len(l.problems) > before {
		return nil // Validate would only repeat what decoding found
	}
	ps := spec.Validate(checks.SpecEnv{BaseDir: l.cfg.Dir})
	for _, p := range ps {
		if p.File == "" && p.Line <= 0 && f.reported(p.Field) {
			continue // its value had a problem, reported already
		}
		file, line := p.File, p.Line
		if file == "" && line <= 0 {
			line = f.lineOf(p.Field)
		}
		if file == "" {
			file = l.cfg.Path
		}
		l.problems = append(l.problems, Problem{File: file, Line: line, Msg: label + ": " + p.Msg})
	}
	if len(ps) > 0 {
		return nil
	}
	return spec
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
func (l *loader) checkDatasource(f *decoded, c Check, kind checks.Kind, known bool) {
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
