package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestDatadogExport(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vigil.yaml")
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
sinks:
  datadog: {namespace: acme.checks}
datasources:
  db: {driver: sqlite, dsn: p.db}
checks:
  - {id: c1, kind: sql, datasource: db, query: SELECT 1}
`})
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{name: "default namespace", args: []string{"datadog", "export"}, code: exitOK, contains: `sum:vigil.check.run{`},
		{name: "namespace", args: []string{"datadog", "export", "--namespace", "acme"}, code: exitOK, contains: `sum:acme.check.run{`},
		{name: "namespace from the config", args: []string{"datadog", "export", "-c", cfg}, code: exitOK, contains: `sum:acme.checks.check.run{`},
		{name: "--namespace wins over the config", args: []string{"datadog", "export", "-c", cfg, "--namespace", "other"}, code: exitOK, contains: `sum:other.check.run{`},
		{name: "--namespace vigil wins over the config", args: []string{"datadog", "export", "--namespace", "vigil", "-c", cfg}, code: exitOK, contains: `sum:vigil.check.run{`},
		{name: "missing config", args: []string{"datadog", "export", "-c", filepath.Join(dir, "nope.yaml")}, code: exitBroken},
		{name: "bad namespace", args: []string{"datadog", "export", "--namespace", "9x"}, code: exitBroken},
		{name: "no subcommand", args: []string{"datadog"}, code: exitBroken},
		{name: "extra argument", args: []string{"datadog", "export", "x"}, code: exitBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(context.Background(), tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if tt.code != exitOK {
				if stderr.Len() == 0 {
					t.Error("no message on stderr")
				}
				return
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
				t.Fatalf("output is not one JSON document: %v", err)
			}
			for _, k := range []string{"dashboard", "slos", "monitors"} {
				if _, ok := doc[k]; !ok {
					t.Errorf("output lacks %q", k)
				}
			}
			if !strings.Contains(stdout.String(), tt.contains) {
				t.Errorf("output lacks %q", tt.contains)
			}
		})
	}
}
