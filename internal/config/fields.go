package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxMergeDepth bounds how deeply "<<" merge keys may nest.
const maxMergeDepth = 16

// pair is one key/value of a mapping node.
type pair struct {
	key, value *yaml.Node
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxMergeDepth; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or a YAML null.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// kindName names a node's kind for messages.
func kindName(n *yaml.Node) string {
	r := resolve(n)
	if r == nil {
		return "nothing"
	}
	switch r.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a scalar"
	}
}

// mappingPairs returns the pairs of a mapping node in file order with "<<"
// merge keys flattened (explicit keys win over merged ones, earlier merged
// mappings over later ones). Problems with merge values and duplicate keys
// are reported through l.
func (l *loader) mappingPairs(n *yaml.Node) []pair {
	c := pairCollector{l: l, seen: map[string]*yaml.Node{}, visited: map[*yaml.Node]bool{}}
	c.collect(n, false, 0)
	return c.out
}

// pairCollector flattens one mapping. visited stops a mapping merged twice
// (or into itself) from being read again.
type pairCollector struct {
	l       *loader
	out     []pair
	seen    map[string]*yaml.Node
	visited map[*yaml.Node]bool
}

func (c *pairCollector) collect(n *yaml.Node, merged bool, depth int) {
	l := c.l
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode || c.visited[n] {
		return
	}
	c.visited[n] = true
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "tag:yaml.org,2002:merge") {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		if first, dup := c.seen[name]; dup {
			if !merged {
				l.addf(k.Line, "duplicate key %q (first at line %d)", name, first.Line)
			}
			continue
		}
		c.seen[name] = k
		c.out = append(c.out, pair{k, v})
	}
	for _, m := range merges {
		if depth >= maxMergeDepth {
			l.addf(m.Line, "merge keys nested too deeply")
			return
		}
		m := resolve(m)
		switch {
		case m == nil:
		case m.Kind == yaml.MappingNode:
			c.collect(m, true, depth+1)
		case m.Kind == yaml.SequenceNode:
			for _, e := range m.Content {
				if e := resolve(e); e != nil && e.Kind == yaml.MappingNode {
					c.collect(e, true, depth+1)
				} else {
					l.addf(m.Line, "merge key \"<<\" needs a mapping or a list of mappings")
				}
			}
		default:
			l.addf(m.Line, "merge key \"<<\" needs a mapping or a list of mappings")
		}
	}
}

// fields reads the keys of one mapping node. Each accessor marks its key as
// known; done reports every other key as an unknown field. Messages about a
// value are prefixed with prefix ("server: ", `check "x": `).
type fields struct {
	l      *loader
	line   int    // where a missing field is reported
	where  string // "in server", `in check "x"`; "" at the top level
	prefix string
	pairs  []pair
	byKey  map[string]pair
	used   map[string]bool
}

// fieldsOf returns a reader for n, which must be a mapping or null (a null
// reads as an empty mapping). For any other node it reports "<name> must be
// a mapping" and returns a reader with no keys.
func (l *loader) fieldsOf(n *yaml.Node, line int, name, where, prefix string) *fields {
	f := &fields{l: l, line: line, where: where, prefix: prefix, byKey: map[string]pair{}, used: map[string]bool{}}
	if isNull(n) {
		return f
	}
	if r := resolve(n); r.Kind != yaml.MappingNode {
		l.addf(n.Line, "%s must be a mapping, got %s", name, kindName(n))
		return f
	}
	f.pairs = l.mappingPairs(n)
	for _, p := range f.pairs {
		f.byKey[p.key.Value] = p
	}
	return f
}

// value returns the value of key, or nil when it is absent or null.
func (f *fields) value(key string) *yaml.Node {
	f.used[key] = true
	p, ok := f.byKey[key]
	if !ok || isNull(p.value) {
		return nil
	}
	return resolve(p.value)
}

// has reports whether key is present with a non-null value.
func (f *fields) has(key string) bool {
	p, ok := f.byKey[key]
	return ok && !isNull(p.value)
}

// keyLine is the line of key, or the mapping's line when it is absent.
func (f *fields) keyLine(key string) int {
	if p, ok := f.byKey[key]; ok {
		return p.key.Line
	}
	return f.line
}

// problem reports msg about key (at its line) with the reader's prefix.
func (f *fields) problem(key, format string, args ...any) {
	f.l.addf(f.keyLine(key), "%s"+format, append([]any{f.prefix}, args...)...)
}

// scalar returns the scalar value of key; ok is false when the key is
// absent, null or not a scalar (the latter is reported).
func (f *fields) scalar(key string) (n *yaml.Node, ok bool) {
	n = f.value(key)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.ScalarNode {
		f.l.addf(n.Line, "%s%s: expected a scalar, got %s", f.prefix, key, kindName(n))
		return nil, false
	}
	return n, true
}

// str sets *dst to the value of key when it is present.
func (f *fields) str(key string, dst *string) {
	if n, ok := f.scalar(key); ok {
		*dst = n.Value
	}
}

// duration sets *dst to the value of key (Go duration syntax) when it is
// present and valid.
func (f *fields) duration(key string, dst *time.Duration) {
	n, ok := f.scalar(key)
	if !ok || f.l.bad[n] {
		return
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		f.l.addf(n.Line, "%s%s: invalid duration %q", f.prefix, key, n.Value)
		return
	}
	*dst = d
}

// bool sets *dst to the value of key when it is present and true or false.
func (f *fields) bool(key string, dst *bool) {
	n, ok := f.scalar(key)
	if !ok || f.l.bad[n] {
		return
	}
	switch strings.ToLower(n.Value) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		f.l.addf(n.Line, "%s%s: want true or false, got %q", f.prefix, key, n.Value)
	}
}

// int sets *dst to the value of key when it is present and an integer.
func (f *fields) int(key string, dst *int) {
	n, ok := f.scalar(key)
	if !ok || f.l.bad[n] {
		return
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		var i int
		if n.Decode(&i) != nil {
			f.l.addf(n.Line, "%s%s: invalid integer %q", f.prefix, key, n.Value)
			return
		}
		v = i // YAML forms such as 0x10 or 1_000
	}
	*dst = v
}

// strings sets *dst to the list of scalars under key when it is present.
func (f *fields) strings(key string, dst *[]string) {
	n := f.value(key)
	if n == nil {
		return
	}
	if n.Kind != yaml.SequenceNode {
		f.l.addf(n.Line, "%s%s: expected a list, got %s", f.prefix, key, kindName(n))
		return
	}
	out := make([]string, 0, len(n.Content))
	for _, e := range n.Content {
		e = resolve(e)
		if e.Kind != yaml.ScalarNode {
			f.l.addf(e.Line, "%s%s: expected a list of scalars, got %s", f.prefix, key, kindName(e))
			continue
		}
		out = append(out, e.Value)
	}
	*dst = out
}

// elementLines returns the line of each element of the list under key (nil
// when key is absent or not a list).
func (f *fields) elementLines(key string) []int {
	n := f.value(key)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]int, len(n.Content))
	for i, e := range n.Content {
		out[i] = e.Line
	}
	return out
}

// secret sets *dst from key or, when key_file is set instead, from the
// trimmed content of that file (relative to the config's directory).
func (f *fields) secret(key string, dst *string) {
	fileKey := key + "_file"
	if f.has(key) && f.has(fileKey) {
		f.problem(fileKey, "%s and %s are both set", key, fileKey)
	}
	f.str(key, dst)
	var path string
	f.str(fileKey, &path)
	if path == "" || f.has(key) {
		return
	}
	s, err := f.l.readSecret(path)
	if err != nil {
		f.problem(fileKey, "%s: %v", fileKey, err)
		return
	}
	if s == "" {
		f.problem(fileKey, "%s: %q is empty", fileKey, path)
		return
	}
	*dst = s
}

// done reports every key no accessor asked for as an unknown field.
func (f *fields) done() {
	for _, p := range f.pairs {
		if !f.used[p.key.Value] {
			f.l.unknownField(p.key, f.where)
		}
	}
}

// rest returns the pairs no accessor asked for, in file order.
func (f *fields) rest() []pair {
	var out []pair
	for _, p := range f.pairs {
		if !f.used[p.key.Value] {
			out = append(out, p)
		}
	}
	return out
}

// unknownField reports key as an unknown field of where.
func (l *loader) unknownField(key *yaml.Node, where string) {
	msg := fmt.Sprintf("unknown field %q", key.Value)
	if where != "" {
		msg += " " + where
	}
	l.addf(key.Line, "%s", msg)
}
