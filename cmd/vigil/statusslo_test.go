package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestStatusAndSLOExamples: the examples validate, and their checks run
// and pass on their seeded data.
func TestStatusAndSLOExamples(t *testing.T) {
	for _, name := range []string{"status_page", "slos"} {
		t.Run(name, func(t *testing.T) {
			dir := exampleCopy(t, name, true)
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
	dir := exampleCopy(t, "slos", true)
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
