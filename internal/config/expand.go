package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// refTokens stands in for the ${NAME} references of a config's raw text
// while YAML parses it. DESIGN.md writes `{driver: postgres, dsn: ${DSN}}`,
// where a bare "{" or "}" inside a plain scalar would end the flow mapping:
// a token of plain characters parses the same in every YAML context, and
// each scalar gets its references back before they are expanded.
type refTokens struct {
	prefix string
	refs   []string // the references as written, "${NAME}", by token number
	find   *regexp.Regexp
}

// protectRefs returns data with each ${...} reference closed on its line
// replaced by a token of the same line, and the tokens to restore. "$$" is
// kept as written (expand reads it as "$"). Lines are unchanged, so YAML
// errors and problems keep their line numbers.
func protectRefs(data []byte) ([]byte, *refTokens) {
	t := &refTokens{prefix: "__vigil_ref_"}
	for bytes.Contains(data, []byte(t.prefix)) {
		t.prefix += "x_"
	}
	t.find = regexp.MustCompile(regexp.QuoteMeta(t.prefix) + `(\d+)__`)
	var out bytes.Buffer
	for i := 0; i < len(data); i++ {
		if data[i] != '$' || i+1 == len(data) {
			out.WriteByte(data[i])
			continue
		}
		switch data[i+1] {
		case '$':
			out.WriteString("$$")
			i++
		case '{':
			end := bytes.IndexAny(data[i+2:], "}\n")
			if end < 0 || data[i+2+end] != '}' {
				out.WriteByte('$') // unterminated: expand reports it
				continue
			}
			fmt.Fprintf(&out, "%s%d__", t.prefix, len(t.refs))
			t.refs = append(t.refs, string(data[i:i+3+end]))
			i += 2 + end
		default:
			out.WriteByte('$')
		}
	}
	return out.Bytes(), t
}

// restore puts the references back into s.
func (t *refTokens) restore(s string) string {
	if t == nil || len(t.refs) == 0 || !strings.Contains(s, t.prefix) {
		return s
	}
	return t.find.ReplaceAllStringFunc(s, func(tok string) string {
		n, err := strconv.Atoi(t.find.FindStringSubmatch(tok)[1])
		if err != nil || n >= len(t.refs) {
			return tok
		}
		return t.refs[n]
	})
}

// expandTree puts back the references protectRefs hid, then replaces
// ${NAME} in every scalar value of the tree (not in mapping keys) and "$$"
// with "$". A plain scalar is re-typed from its new text, so
// `fail_after: ${N}` reads as an integer. A scalar with a bad reference is
// reported, left as written and marked bad so that it is not reported
// again as, say, an invalid duration.
func (l *loader) expandTree(n *yaml.Node) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			l.expandTree(c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode {
				k.Value = l.refs.restore(k.Value)
			}
			l.expandTree(n.Content[i+1])
		}
	case yaml.ScalarNode:
		n.Value = l.refs.restore(n.Value)
		if !strings.Contains(n.Value, "$") {
			return
		}
		v, err := expand(n.Value, l.lookupEnv)
		if err != nil {
			l.addf(n.Line, "%v", err)
			l.bad[n] = true
			return
		}
		n.Value = v
		if n.Style == 0 {
			n.Tag = "" // resolve the plain scalar again from its new value
		}
	}
}

// expand replaces ${NAME} with the value of NAME and "$$" with "$". A "$"
// followed by anything else is kept. An undefined or malformed reference is
// an error naming it.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated \"${\" in value")
			}
			name := s[i+2 : i+2+end]
			if !validEnvName(name) {
				return "", fmt.Errorf("invalid environment variable name %q", name)
			}
			v, ok := lookup(name)
			if !ok {
				return "", fmt.Errorf("undefined environment variable %q", name)
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// validEnvName reports whether name is a shell-style variable name.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// readSecret returns the trimmed content of a secret file; a relative path
// is relative to the config's directory. The error quotes the path as
// written and never the content.
func (l *loader) readSecret(path string) (string, error) {
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(l.cfg.Dir, full)
	}
	b, err := os.ReadFile(full)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("cannot read %q: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}
