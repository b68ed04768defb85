package config

import (
	"fmt"

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

// unknownField reports key as an unknown field of where.
func (l *loader) unknownField(key *yaml.Node, where string) {
	msg := fmt.Sprintf("unknown field %q", key.Value)
	if where != "" {
		msg += " " + where
	}
	l.addf(key.Line, "%s", msg)
}
