package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// expandTree replaces ${NAME} in every scalar value of the tree (not in
// mapping keys) and "$$" with "$". A plain scalar is re-typed from its new
// text, so `fail_after: ${N}` reads as an integer. A scalar with a bad
// reference is reported, left as written and marked bad so that it is not
// reported again as, say, an invalid duration.
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
			l.expandTree(n.Content[i+1])
		}
	case yaml.ScalarNode:
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
