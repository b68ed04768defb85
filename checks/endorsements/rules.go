package endorsements

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/checks"
)

// Transaction types a policy may have, in the order auto_attach lists them.
const (
	txnNew = iota
	txnRenewal
	txnReissue
	numTxn
)

// txnNames are the transaction words, indexed by txnNew, txnRenewal, txnReissue.
var txnNames = [numTxn]string{"new", "renewal", "reissue"}

// action is what a rule requires of a policy of one transaction type.
type action uint8

const (
	actNo   action = iota // nothing required (also: transaction absent from auto_attach)
	actYes                // at least one copy attached
	actCopy               // at least as many copies as the reissued policy carries
)

// rule is one entry of the rules file.
type rule struct {
	code   string
	when   []condition
	attach [numTxn]action
}

// condition is one `when` key and the values that satisfy it.
type condition struct {
	key    string
	line   int // of the key in the rules file
	values []string
}

// maxAliasDepth bounds alias chains in a rules file.
const maxAliasDepth = 16

// yamlLine pulls the line number out of a yaml.v3 syntax error.
var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// loadRules reads and checks the rules file at path. Every problem is
// reported with path and the 1-based line it concerns (0 when the file
// cannot be read at all); the rules are usable only when there is none.
func loadRules(path string) ([]rule, []checks.Problem) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, []checks.Problem{{File: path, Msg: fmt.Sprintf("cannot read rules file: %v", err)}}
	}
	return parseRules(path, data)
}

// parseRules decodes a rules file's content; path is used in problems.
func parseRules(path string, data []byte) ([]rule, []checks.Problem) {
	p := &rulesParser{path: path, codes: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := 0, strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		p.add(line, "invalid YAML: %s", msg)
		return nil, p.problems
	}
	p.file(&doc)
	sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].Line < p.problems[j].Line })
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	return p.rules, nil
}

// rulesParser walks a rules file's node tree, collecting rules and problems.
type rulesParser struct {
	path     string
	rules    []rule
	codes    map[string]int // code -> line of its first definition
	problems []checks.Problem
}

func (p *rulesParser) add(line int, format string, args ...any) {
	p.problems = append(p.problems, checks.Problem{File: p.path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or a YAML null.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// pairs returns the key/value nodes of mapping m in file order, reporting a
// key given twice (what names the mapping in the message).
func (p *rulesParser) pairs(m *yaml.Node, what string) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			p.add(k.Line, "duplicate %s %q (first at line %d)", what, k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

func (p *rulesParser) file(doc *yaml.Node) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.add(1, "rules file is empty: want a mapping with an endorsements list")
		return
	}
	top := resolve(doc.Content[0])
	if top.Kind != yaml.MappingNode {
		p.add(top.Line, "rules file must be a mapping with an endorsements list")
		return
	}
	var list *yaml.Node
	for _, kv := range p.pairs(top, "field") {
		if kv[0].Value != "endorsements" {
			p.add(kv[0].Line, "unknown field %q (want endorsements)", kv[0].Value)
			continue
		}
		list = kv[1]
	}
	if list == nil {
		p.add(top.Line, "rules file has no endorsements list")
		return
	}
	if l := resolve(list); l.Kind != yaml.SequenceNode {
		p.add(list.Line, "endorsements must be a list of rules")
		return
	}
	for _, n := range resolve(list).Content {
		p.rule(n)
	}
}

func (p *rulesParser) rule(n *yaml.Node) {
	m := resolve(n)
	if m.Kind != yaml.MappingNode {
		p.add(n.Line, "rule must be a mapping of code, when and auto_attach")
		return
	}
	var r rule
	var code *yaml.Node
	ok := true
	for _, kv := range p.pairs(m, "field") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "code":
			code = v
		case "when":
			ok = p.when(v, &r) && ok
		case "auto_attach":
			ok = p.autoAttach(v, &r) && ok
		default:
			p.add(k.Line, "unknown field %q in rule (want code, when or auto_attach)", k.Value)
		}
	}
	switch c := resolve(code); {
	case isNull(code):
		p.add(m.Line, "rule has no code")
		return
	case c.Kind != yaml.ScalarNode:
		p.add(code.Line, "code must be a single value")
		return
	case c.Value == "":
		p.add(code.Line, "rule has an empty code")
		return
	default:
		r.code = c.Value
	}
	if first, dup := p.codes[r.code]; dup {
		p.add(code.Line, "duplicate code %q (first at line %d)", r.code, first)
		return
	}
	p.codes[r.code] = code.Line
	if ok {
		p.rules = append(p.rules, r)
	}
}

// when reads a rule's `when` mapping into r, reporting false on a problem.
func (p *rulesParser) when(n *yaml.Node, r *rule) bool {
	if isNull(n) {
		return true
	}
	m := resolve(n)
	if m.Kind != yaml.MappingNode {
		p.add(n.Line, "when must be a mapping of key to a value or a list of values")
		return false
	}
	ok := true
	for _, kv := range p.pairs(m, "when key") {
		k, v := kv[0], resolve(kv[1])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			p.add(k.Line, "when key must be a column or attribute name")
			ok = false
			continue
		}
		c := condition{key: k.Value, line: k.Line}
		switch {
		case isNull(v):
			p.add(kv[1].Line, "when.%s must be a value or a list of values", k.Value)
			ok = false
			continue
		case v.Kind == yaml.ScalarNode:
			c.values = []string{v.Value}
		case v.Kind == yaml.SequenceNode:
			if len(v.Content) == 0 {
				p.add(kv[1].Line, "when.%s lists no values", k.Value)
				ok = false
				continue
			}
			for _, e := range v.Content {
				if e := resolve(e); e.Kind != yaml.ScalarNode || isNull(e) {
					p.add(e.Line, "when.%s must be a value or a list of values", k.Value)
					ok = false
					continue
				}
				c.values = append(c.values, resolve(e).Value)
			}
		default:
			p.add(kv[1].Line, "when.%s must be a value or a list of values", k.Value)
			ok = false
			continue
		}
		r.when = append(r.when, c)
	}
	return ok
}

// autoAttach reads a rule's auto_attach mapping into r, reporting false on a
// problem. Values are read as the words written: yes and no are never booleans.
func (p *rulesParser) autoAttach(n *yaml.Node, r *rule) bool {
	if isNull(n) {
		return true
	}
	m := resolve(n)
	if m.Kind != yaml.MappingNode {
		p.add(n.Line, "auto_attach must be a mapping of new, renewal or reissue to yes, no or copy")
		return false
	}
	ok := true
	for _, kv := range p.pairs(m, "transaction") {
		k, v := kv[0], resolve(kv[1])
		txn := txnIndex(k.Value)
		if txn < 0 || k.Kind != yaml.ScalarNode {
			p.add(k.Line, "unknown transaction %q in auto_attach (want new, renewal or reissue)", k.Value)
			ok = false
			continue
		}
		if v.Kind != yaml.ScalarNode || isNull(v) {
			p.add(kv[1].Line, "auto_attach.%s must be yes, no or copy", k.Value)
			ok = false
			continue
		}
		switch v.Value {
		case "yes":
			r.attach[txn] = actYes
		case "no":
			r.attach[txn] = actNo
		case "copy":
			r.attach[txn] = actCopy
		default:
			p.add(kv[1].Line, "auto_attach.%s must be yes, no or copy, got %q", k.Value, v.Value)
			ok = false
		}
	}
	return ok
}

// txnIndex returns the index of a transaction word, or -1.
func txnIndex(word string) int {
	for i, w := range txnNames {
		if w == word {
			return i
		}
	}
	return -1
}
