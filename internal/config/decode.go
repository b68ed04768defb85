package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxDecodeNodes bounds the nodes one decode visits, so that a document
// built from nested aliases cannot make it run for ever.
const maxDecodeNodes = 100000

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	// legacyUnmarshalerType is yaml.v3's obsoleteUnmarshaler, the yaml.v2
	// form it still calls.
	legacyUnmarshalerType = reflect.TypeOf((*interface {
		UnmarshalYAML(unmarshal func(any) error) error
	})(nil)).Elem()
	yamlErrorLine = regexp.MustCompile(`^(?:yaml: )?(?:line \d+: )?`)
)

// place names where a node is, for messages: label is the mapping that
// owns it ("server", "sinks.slack", "auth.users[1]", `check "x"`; "" for
// the top level) and rel the path below that mapping ("tables[0].warn_after";
// "" for the mapping itself).
type place struct {
	label, rel string
}

// where is "in server", `in check "x" at tables[0]`, or "" at the top.
func (p place) where() string {
	switch {
	case p.label == "":
		return ""
	case p.rel == "":
		return "in " + p.label
	}
	return "in " + p.label + " at " + p.rel
}

// prefix starts a message about the node: "server: listen: ".
func (p place) prefix() string {
	var parts []string
	for _, s := range []string{p.label, p.rel} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ": ") + ": "
}

// decoder decodes one mapping of the file (a section, a datasource, a
// check) strictly into a yaml-tagged Go value. It walks the YAML against
// the Go type first, reporting every unknown field, wrong shape and
// unreadable value with its line, and builds a copy of the tree without
// them (and without nulls, merge keys and values whose ${VAR} failed); the
// copy then decodes without error. It records each field's line for the
// validation that follows.
type decoder struct {
	l *loader
	// dotted: a nested mapping gets its own label ("sinks.slack"), as in the
	// top-level sections; otherwise its fields are paths below the decoded
	// item's label (`check "x"` at "tables[0]").
	dotted bool
	budget int
	root   place
	fields map[string]field
	// dropped are the paths whose value was left out for a problem.
	dropped map[string]bool
}

// field is what the decoder saw at one path below the decoded mapping.
type field struct {
	line  int        // of its key, or of the list item
	value *yaml.Node // as written (resolved)
	// owner is the label of the mapping that holds it: the prefix of a
	// message about it.
	owner string
	// inner is the place of the field's own content.
	inner place
}

// decode strictly decodes n, the mapping at line whose label is label, into
// dst (a pointer to a yaml-tagged struct) and returns the record of its
// fields for validation. A null n leaves dst as it is. dotted says how
// nested mappings are named (see decoder).
func (l *loader) decode(n *yaml.Node, line int, label string, dotted bool, dst any) *decoded {
	d := &decoder{l: l, dotted: dotted, budget: maxDecodeNodes, root: place{label: label}, fields: map[string]field{}, dropped: map[string]bool{}}
	d.fields[""] = field{line: line, value: resolve(n), owner: label, inner: d.root}
	if clean := d.walk(n, reflect.TypeOf(dst), d.root); clean != nil {
		if err := clean.Decode(dst); err != nil { // not expected: the walk removed what cannot decode
			l.addf(line, "%s%s", d.root.prefix(), yamlErrorLine.ReplaceAllString(err.Error(), ""))
		}
	}
	return &decoded{l: l, fields: d.fields, dropped: d.dropped}
}

// child is the place of a mapping's field key, or of a list's item when key
// is "[i]".
func (d *decoder) child(at place, key string, t reflect.Type) place {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	joined := at.rel
	switch {
	case strings.HasPrefix(key, "["):
		joined += key
	case joined == "":
		joined = key
	default:
		joined += "." + key
	}
	if d.dotted && t.Kind() == reflect.Struct && !decodesItself(t) && t != durationType {
		label := at.label
		switch {
		case label == "":
			label = joined
		case strings.HasPrefix(joined, "["):
			label += joined
		default:
			label += "." + joined
		}
		return place{label: label}
	}
	return place{label: at.label, rel: joined}
}

// path is the key of a place in d.fields: its path below the decoded
// mapping.
func (d *decoder) path(p place) string {
	full := p.label
	if p.rel != "" {
		if full != "" && !strings.HasPrefix(p.rel, "[") {
			full += "."
		}
		full += p.rel
	}
	if d.root.label == "" {
		return full
	}
	rest := strings.TrimPrefix(full, d.root.label)
	return strings.TrimPrefix(rest, ".")
}

// walk returns a copy of n fit to decode into t, or nil when n is to be
// left out (null, reported, or out of budget).
func (d *decoder) walk(n *yaml.Node, t reflect.Type, at place) *yaml.Node {
	d.budget--
	n = resolve(n)
	if d.budget < 0 || isNull(n) || d.l.bad[n] {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case decodesItself(t):
		// The type decodes itself: try it on this node alone.
		// Its messages name the field themselves.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			d.l.addf(n.Line, "%s%s", place{label: at.label}.prefix(), yamlErrorLine.ReplaceAllString(err.Error(), ""))
			return nil
		}
		return n
	case t == durationType:
		return d.duration(n, at)
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.shape(n, t, at)
			return nil
		}
		fields, inline := structFields(t)
		out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
		for _, p := range d.l.mappingPairs(n) {
			ft, ok := fields[p.key.Value]
			if !ok {
				ft = inline
			}
			if ft == nil {
				d.l.unknownField(p.key, at.where())
				continue
			}
			sub := d.child(at, p.key.Value, ft)
			d.record(sub, at, p.key.Line, p.value)
			if v := d.walkField(p.value, ft, sub); v != nil {
				out.Content = append(out.Content, p.key, v)
			}
		}
		return out
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.shape(n, t, at)
			return nil
		}
		out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
		for _, p := range d.l.mappingPairs(n) {
			sub := d.child(at, p.key.Value, t.Elem())
			d.record(sub, at, p.key.Line, p.value)
			if v := d.walkField(p.value, t.Elem(), sub); v != nil {
				out.Content = append(out.Content, p.key, v)
			}
		}
		return out
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			d.shape(n, t, at)
			return nil
		}
		out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: n.Line, Column: n.Column}
		for i, e := range n.Content {
			sub := d.child(at, fmt.Sprintf("[%d]", i), t.Elem())
			d.record(sub, at, resolveLine(e), e)
			v := d.walkField(e, t.Elem(), sub)
			if v == nil { // a zero item keeps the indexes those of the file
				v = zeroNode(t.Elem())
			}
			out.Content = append(out.Content, v)
		}
		return out
	case reflect.Interface:
		return n
	}
	if n.Kind != yaml.ScalarNode {
		d.shape(n, t, at)
		return nil
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		d.shape(n, t, at)
		return nil
	}
	return n
}

// decodesItself reports whether t has its own YAML decoding.
func decodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(unmarshalerType) || p.Implements(legacyUnmarshalerType)
}

// walkField walks the value of one field or item; a value it leaves out
// for a problem is marked dropped, so validation says nothing more of it.
func (d *decoder) walkField(n *yaml.Node, t reflect.Type, at place) *yaml.Node {
	v := d.walk(n, t, at)
	if v == nil && !isNull(n) {
		d.dropped[d.path(at)] = true
	}
	return v
}

// zeroNode is a node that decodes into the zero value of t (yaml.v3 skips
// a null item of a list of structs or strings, which would shift the
// indexes of the items after it).
func zeroNode(t reflect.Type) *yaml.Node {
	var n yaml.Node
	if err := n.Encode(reflect.Zero(t).Interface()); err != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return &n
}

func resolveLine(n *yaml.Node) int {
	if r := resolve(n); r != nil {
		return r.Line
	}
	return n.Line
}

// record notes the field at sub, held by the mapping at parent.
func (d *decoder) record(sub, parent place, line int, value *yaml.Node) {
	d.fields[d.path(sub)] = field{line: line, value: resolve(value), owner: parent.label, inner: sub}
}

// shape reports a node of the wrong kind for t: "server must be a mapping,
// got a list" for a mapping with its own label, else
// `check "x": query: expected a string, got a list`.
func (d *decoder) shape(n *yaml.Node, t reflect.Type, at place) {
	if at.rel == "" && at.label != "" {
		d.l.addf(n.Line, "%s must be a mapping, got %s", at.label, kindName(n))
		return
	}
	got := kindName(n)
	if n.Kind == yaml.ScalarNode {
		got = fmt.Sprintf("%q", n.Value)
	}
	d.l.addf(n.Line, "%sexpected %s, got %s", at.prefix(), describeType(t), got)
}

// duration keeps a node that reads as a time.Duration: a string in Go
// syntax ("60s", "5m", "800ms"), and reports any other.
func (d *decoder) duration(n *yaml.Node, at place) *yaml.Node {
	if n.Kind != yaml.ScalarNode {
		d.l.addf(n.Line, "%sexpected a duration, got %s", at.prefix(), kindName(n))
		return nil
	}
	if _, err := time.ParseDuration(n.Value); err != nil || n.ShortTag() != "!!str" {
		d.l.addf(n.Line, "%sinvalid duration %q", at.prefix(), n.Value)
		return nil
	}
	return n
}

// describeType names what a Go type reads from YAML, for a config author.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		return "a duration"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return "a value"
}

// decoded is the record of one decode: which fields were written, where,
// for the validation that follows. Paths are relative to the decoded
// mapping: "listen", "slack.webhook_url", "tables[1].warn_after".
type decoded struct {
	l       *loader
	fields  map[string]field
	dropped map[string]bool
}

// has reports whether path was written with a non-null value.
func (d *decoded) has(path string) bool {
	f, ok := d.fields[path]
	return ok && path != "" && !isNull(f.value)
}

// lineOf is the line of path, else of its nearest written ancestor.
func (d *decoded) lineOf(path string) int {
	for {
		if f, ok := d.fields[path]; ok {
			return f.line
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// owner is the label of the mapping that holds path: the prefix of a
// message about it.
func (d *decoded) owner(path string) string {
	if f, ok := d.fields[path]; ok {
		return f.owner
	}
	if path == "" {
		return ""
	}
	parent := parentPath(path)
	for {
		if f, ok := d.fields[parent]; ok {
			return f.inner.label
		}
		if parent == "" {
			return ""
		}
		parent = parentPath(parent)
	}
}

// problem reports msg about path at its line, prefixed with the label of
// its mapping ("server: "). Nothing more is said about a value whose ${VAR}
// failed: that was reported already.
func (d *decoded) problem(path, format string, args ...any) {
	if d.reported(path) {
		return
	}
	prefix := ""
	if o := d.owner(path); o != "" {
		prefix = o + ": "
	}
	d.l.addf(d.lineOf(path), "%s"+format, append([]any{prefix}, args...)...)
}

// reported says whether path or a mapping or list holding it had a
// problem already: its value was left out, or its ${VAR} failed.
func (d *decoded) reported(path string) bool {
	for p := path; ; p = parentPath(p) {
		if d.dropped[p] {
			return true
		}
		if f, ok := d.fields[p]; ok && f.value != nil && d.l.bad[f.value] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// parentPath drops the last part of a dotted path: "a.b[1]" -> "a.b",
// "a.b" -> "a", "a" -> "".
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
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

// secret resolves a secret written as path or as path_file (a file whose
// trimmed content is the secret, relative to the config's directory):
// value is path's decoded value and file path_file's.
func (d *decoded) secret(path string, value *string, file string) {
	name := path[strings.LastIndex(path, ".")+1:]
	fileKey := path + "_file"
	if d.has(path) && d.has(fileKey) {
		d.problem(fileKey, "%s and %s_file are both set", name, name)
	}
	if file == "" || d.has(path) {
		return
	}
	s, err := d.l.readSecret(file)
	if err != nil {
		d.problem(fileKey, "%s_file: %v", name, err)
		return
	}
	if s == "" {
		d.problem(fileKey, "%s_file: %q is empty", name, file)
		return
	}
	*value = s
}
