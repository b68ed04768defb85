package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/checks"
)

// maxSpecNodes bounds the nodes the strict walk visits, so that a document
// built from nested aliases cannot make it run for ever.
const maxSpecNodes = 100000

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	typeErrorLine   = regexp.MustCompile(`^line (\d+): (.*)$`)
	cannotScalar    = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.+)$")
	cannotNode      = regexp.MustCompile(`^cannot unmarshal !!(map|seq) into (.+)$`)
)

// spec decodes the check's kind-specific fields (those f did not read)
// strictly into kind.NewSpec() and validates it. It returns nil when the
// fields could not be decoded or the spec reported problems.
func (l *loader) spec(f *fields, kind checks.Kind, item *yaml.Node) checks.Spec {
	rest := f.rest()
	var spec checks.Spec
	if kind.NewSpec != nil {
		spec = kind.NewSpec()
	}
	if spec == nil {
		for _, p := range rest {
			l.unknownField(p.key, f.where)
		}
		return nil
	}
	node := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column}
	for _, p := range rest {
		node.Content = append(node.Content, p.key, p.value)
	}

	before := len(l.problems)
	w := &specWalker{l: l, where: f.where, prefix: f.prefix, budget: maxSpecNodes, lines: map[lineKind]*seen{}}
	w.walk(node, reflect.TypeOf(spec), "")
	if err := node.Decode(spec); err != nil {
		w.decodeError(err, f.prefix, item.Line)
	}
	if len(l.problems) > before {
		return nil // Validate would only repeat what decoding found
	}
	ps := spec.Validate(checks.SpecEnv{BaseDir: l.cfg.Dir})
	for _, p := range ps {
		file, line := p.File, p.Line
		if file == "" && line <= 0 {
			line = fieldLine(item, p.Field)
		}
		if file == "" {
			file = l.cfg.Path
		}
		l.problems = append(l.problems, Problem{File: file, Line: line, Msg: f.prefix + p.Msg})
	}
	if len(ps) > 0 {
		return nil
	}
	return spec
}

// lineKind keys the walk's record of which field a YAML node on a line is,
// so that a yaml.TypeError (which only names a line and a tag) can name the
// field.
type lineKind struct {
	line int
	tag  string // "scalar", "map" or "seq"
}

type seen struct {
	path string
	node *yaml.Node
	many bool
}

// specWalker checks a kind-specific mapping against the spec's Go type: it
// reports unknown fields and invalid durations with their lines, and records
// each node's field path.
type specWalker struct {
	l      *loader
	where  string // "in check \"x\""
	prefix string // "check \"x\": "
	budget int
	lines  map[lineKind]*seen
}

func (w *specWalker) record(n *yaml.Node, path string) {
	tag := "scalar"
	switch n.Kind {
	case yaml.MappingNode:
		tag = "map"
	case yaml.SequenceNode:
		tag = "seq"
	}
	k := lineKind{n.Line, tag}
	if s, ok := w.lines[k]; ok {
		if s.path != path {
			s.many = true
		}
		return
	}
	w.lines[k] = &seen{path: path, node: n}
}

func (w *specWalker) walk(n *yaml.Node, t reflect.Type, path string) {
	w.budget--
	n = resolve(n)
	if w.budget < 0 || n == nil || isNull(n) {
		return
	}
	if path != "" {
		w.record(n, path)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return // the type decodes itself
	}
	if t == durationType {
		w.duration(n, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // yaml reports the type error
		}
		fields, inline := structFields(t)
		for _, p := range w.l.mappingPairs(n) {
			sub := joinPath(path, p.key.Value)
			if ft, ok := fields[p.key.Value]; ok {
				w.walk(p.value, ft, sub)
			} else if inline != nil {
				w.walk(p.value, inline, sub)
			} else {
				where := w.where
				if path != "" {
					where += " at " + path
				}
				w.l.unknownField(p.key, where)
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for _, p := range w.l.mappingPairs(n) {
			w.walk(p.value, t.Elem(), joinPath(path, p.key.Value))
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, e := range n.Content {
			w.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// duration reports a node that yaml.v3 cannot decode into a time.Duration:
// it accepts only a string in Go syntax ("60s", "5m", "800ms").
func (w *specWalker) duration(n *yaml.Node, path string) {
	if w.l.bad[n] {
		return
	}
	prefix := ""
	if path != "" {
		prefix = path + ": "
	}
	if n.Kind != yaml.ScalarNode {
		w.l.addf(n.Line, "%s%sexpected a duration, got %s", w.prefix, prefix, kindName(n))
		return
	}
	if _, err := time.ParseDuration(n.Value); err != nil || n.ShortTag() != "!!str" {
		w.l.addf(n.Line, "%s%sinvalid duration %q", w.prefix, prefix, n.Value)
	}
}

// decodeError turns a yaml decode error into problems. Durations and
// duplicate keys were reported by the walk already.
func (w *specWalker) decodeError(err error, prefix string, checkLine int) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		w.l.addf(checkLine, "%s%s", prefix, strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	for _, e := range te.Errors {
		m := typeErrorLine.FindStringSubmatch(e)
		if m == nil {
			w.l.addf(checkLine, "%s%s", prefix, e)
			continue
		}
		line, _ := strconv.Atoi(m[1])
		msg := m[2]
		if strings.HasSuffix(msg, "into time.Duration") || strings.Contains(msg, "already defined at line") {
			continue
		}
		if s, ok := w.lines[lineKind{line, "scalar"}]; ok && !s.many && w.l.bad[s.node] {
			continue // its ${VAR} was reported
		}
		w.l.addf(line, "%s%s", prefix, w.typeMessage(line, msg))
	}
}

// typeMessage rewrites "cannot unmarshal !!str `abc` into int" as
// `warn_above: expected an integer, got "abc"`.
func (w *specWalker) typeMessage(line int, msg string) string {
	if m := cannotScalar.FindStringSubmatch(msg); m != nil {
		value := m[2]
		field := ""
		if s, ok := w.lines[lineKind{line, "scalar"}]; ok && !s.many {
			field, value = s.path+": ", s.node.Value
		}
		return fmt.Sprintf("%sexpected %s, got %q", field, describeType(m[3]), value)
	}
	if m := cannotNode.FindStringSubmatch(msg); m != nil {
		got, field := "a mapping", ""
		if m[1] == "seq" {
			got = "a list"
		}
		if s, ok := w.lines[lineKind{line, m[1]}]; ok && !s.many {
			field = s.path + ": "
		}
		return fmt.Sprintf("%sexpected %s, got %s", field, describeType(m[2]), got)
	}
	return msg
}

// describeType names a Go type from a yaml error for a config author.
func describeType(t string) string {
	t = strings.TrimLeft(t, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	default:
		return "a mapping"
	}
}

// structFields maps the YAML names of a struct's fields to their types, the
// way yaml.v3 does (inline structs flattened). inline is the element type of
// an inline map, which accepts any other key.
func structFields(t reflect.Type) (fields map[string]reflect.Type, inline reflect.Type) {
	fields = map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.PkgPath != "" && !sf.Anonymous {
			continue
		}
		tag := sf.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(sf.Tag), ":") {
			tag = string(sf.Tag)
		}
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if hasOption(opts, "inline") {
			ft := sf.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Map:
				inline = ft.Elem()
			case reflect.Struct:
				sub, subInline := structFields(ft)
				for k, v := range sub {
					fields[k] = v
				}
				if subInline != nil {
					inline = subInline
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		fields[name] = sf.Type
	}
	return fields, inline
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var fieldSegment = regexp.MustCompile(`^([^\[\]]*)((?:\[\d+\])*)$`)

// fieldLine finds the line of a dotted field path ("tables[1].warn_after")
// inside a check's mapping: the line of the deepest part that exists, or
// the check's own line.
func fieldLine(item *yaml.Node, field string) int {
	line := item.Line
	if field == "" {
		return line
	}
	cur := item
	for _, part := range strings.Split(field, ".") {
		m := fieldSegment.FindStringSubmatch(part)
		if m == nil {
			return line
		}
		if m[1] != "" {
			k, v := lookupKey(cur, m[1], map[*yaml.Node]bool{})
			if k == nil {
				return line
			}
			line, cur = k.Line, resolve(v)
		}
		for _, idx := range strings.Split(strings.Trim(m[2], "[]"), "][") {
			if idx == "" {
				continue
			}
			i, err := strconv.Atoi(idx)
			if err != nil || cur == nil || cur.Kind != yaml.SequenceNode || i < 0 || i >= len(cur.Content) {
				return line
			}
			cur = resolve(cur.Content[i])
			if cur == nil {
				return line
			}
			line = cur.Line
		}
	}
	return line
}

// lookupKey finds key in a mapping node, following "<<" merges (each
// mapping is read once).
func lookupKey(n *yaml.Node, key string, visited map[*yaml.Node]bool) (k, v *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode || visited[n] {
		return nil, nil
	}
	visited[n] = true
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := n.Content[i]
		if kn.Value == "<<" && kn.Tag == "!!merge" {
			merges = append(merges, n.Content[i+1])
			continue
		}
		if kn.Value == key {
			return kn, n.Content[i+1]
		}
	}
	for _, m := range merges {
		m = resolve(m)
		if m == nil {
			continue
		}
		list := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			list = m.Content
		}
		for _, e := range list {
			if k, v := lookupKey(e, key, visited); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}
