package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedExample copies examples/<name> to a temporary folder and loads its
// seed.sql into data.db there, as `go run ./examples/seed` does.
func seedExample(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "examples", name)
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(dir, "seed.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for stmt := range strings.SplitSeq(string(script), ";") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return dir
}

func stripComments(s string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestStatusAndSLOExamples: the examples validate, and their checks run
// and pass on their seeded data.
func TestStatusAndSLOExamples(t *testing.T) {
	for _, name := range []string{"status_page", "slos"} {
		t.Run(name, func(t *testing.T) {
			dir := seedExample(t, name)
			cfg := filepath.Join(dir, "vigil.yaml")
			if out, errOut, code := vigil(t, nil, "validate", "-c", cfg); code != 0 {
				t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
			}
			if out, errOut, code := vigil(t, nil, "run", "--once", "-c", cfg, "--format", "json"); code != 0 {
				t.Fatalf("run --once: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// TestDatadogExportSLOs: `vigil datadog export -c` adds each configured
// SLO to the exported ones, over the checks its tags select.
func TestDatadogExportSLOs(t *testing.T) {
	dir := seedExample(t, "slos")
	out, errOut, code := vigil(t, nil, "datadog", "export", "-c", filepath.Join(dir, "vigil.yaml"), "--namespace", "acme")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		SLOs []struct {
			Name       string
			Query      struct{ Numerator, Denominator string }
			Thresholds []struct {
				Timeframe string
				Target    float64
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, s := range doc.SLOs {
		switch s.Name {
		case "vigil: document-generation":
			found++
			if s.Query.Denominator != "sum:acme.check.run{check:documents-generated OR check:duplicate-documents}.as_count()" ||
				s.Thresholds[0].Timeframe != "30d" || s.Thresholds[0].Target != 99.99 {
				t.Errorf("document-generation = %+v", s)
			}
		case "vigil: policy-lifecycle":
			found++
			if s.Query.Numerator != "sum:acme.check.run{check:policy-transitions AND (status:pass OR status:warn)}.as_count()" ||
				s.Thresholds[0].Timeframe != "7d" || s.Thresholds[0].Target != 99.9 {
				t.Errorf("policy-lifecycle = %+v", s)
			}
		}
	}
	if found != 2 {
		t.Errorf("export has %d of the 2 configured SLOs:\n%s", found, out)
	}
}
