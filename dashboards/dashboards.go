// Package dashboards holds vigil's Datadog configuration as code, in
// Datadog's API formats: dashboard.json (POST /api/v1/dashboard),
// slos.json (a list for POST /api/v1/slo) and monitors.json (a list for
// POST /api/v1/monitor). Metric names in them start with the placeholder
// ${NAMESPACE}; Export applies a namespace (`vigil datadog export`).
package dashboards

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

//go:embed *.json
var files embed.FS

// Placeholder stands for the metric namespace in the JSON files.
const Placeholder = "${NAMESPACE}"

// DefaultNamespace is the namespace Export applies when given none (the
// Datadog sink's default).
const DefaultNamespace = "vigil"

// Names of the embedded files, in the order Export prints them.
var Names = []string{"dashboard.json", "slos.json", "monitors.json"}

// validNamespace is a Datadog metric name prefix: it starts with a letter.
var validNamespace = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.]*$`)

// File returns an embedded file with the namespace applied ("" is
// DefaultNamespace; a trailing dot is dropped). It fails for an unknown
// name or a namespace Datadog would not accept.
func File(name, namespace string) ([]byte, error) {
	ns, err := clean(namespace)
	if err != nil {
		return nil, err
	}
	raw, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	return bytes.ReplaceAll(raw, []byte(Placeholder), []byte(ns)), nil
}

func clean(namespace string) (string, error) {
	ns := strings.TrimSuffix(namespace, ".")
	if ns == "" {
		ns = DefaultNamespace
	}
	if !validNamespace.MatchString(ns) || strings.Contains(ns, "..") {
		return "", fmt.Errorf("dashboards: namespace %q: want letters, digits, '_' and '.', starting with a letter", namespace)
	}
	return ns, nil
}

// Export returns one JSON document holding every file with the namespace
// applied: {"dashboard": {...}, "slos": [...], "monitors": [...]}, keyed by
// file name without ".json", indented, with a final newline. The slos
// list ends with one metric SLO per element of slos (vigil.yaml's).
func Export(namespace string, slos ...SLO) ([]byte, error) {
	ns, err := clean(namespace)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, name := range Names {
		raw, err := File(name, namespace)
		if err != nil {
			return nil, err
		}
		if name == "slos.json" {
			if raw, err = withSLOs(raw, ns, slos); err != nil {
				return nil, err
			}
		}
		var ind bytes.Buffer
		if err := json.Indent(&ind, bytes.TrimSpace(raw), "  ", "  "); err != nil {
			return nil, fmt.Errorf("dashboards: %s: %w", name, err)
		}
		fmt.Fprintf(&b, "  %q: %s", strings.TrimSuffix(name, ".json"), ind.Bytes())
		if i < len(Names)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}
