package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/demo"
)

// TestExampleConfigOnSeededData runs `make demo`'s example configuration on
// freshly seeded data: every data kind runs, and clean data passes.
func TestExampleConfigOnSeededData(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "policies.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Seed(context.Background(), db, demo.Options{Policies: 500, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	stdout, stderr, code := vigil(t, []string{"VIGIL_DEMO_DIR=" + dir}, "run", "--once", "-c", "../../internal/demo/example/vigil.yaml", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, stdout, stderr)
	}
	var results []struct{ Check, Kind, Status string }
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, r := range results {
		kinds[r.Kind] = true
		if r.Status != "pass" {
			t.Errorf("%s = %s on clean seeded data", r.Check, r.Status)
		}
	}
	for _, k := range []string{"endorsements", "duplicates", "transitions", "freshness", "sql"} {
		if !kinds[k] {
			t.Errorf("the example runs no %s check", k)
		}
	}

	// Each scenario makes its check fail, and clearing it makes it pass.
	db, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "policies.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range demo.ScenarioNames() {
		sc := demo.Scenarios[name]
		t.Run(name, func(t *testing.T) {
			run := func() (string, int) {
				out, _, code := vigil(t, []string{"VIGIL_DEMO_DIR=" + dir}, "run", "--once", "-c", "../../internal/demo/example/vigil.yaml", "--check", sc.Check)
				return out, code
			}
			for range 2 { // injecting twice changes nothing
				if err := demo.Inject(t.Context(), db, name); err != nil {
					t.Fatal(err)
				}
			}
			if out, code := run(); code != 1 {
				t.Errorf("with %s injected, %s: exit %d, want 1\n%s", name, sc.Check, code, out)
			}
			if err := demo.Clear(t.Context(), db, name); err != nil {
				t.Fatal(err)
			}
			if out, code := run(); code != 0 {
				t.Errorf("after clearing %s, %s: exit %d, want 0\n%s", name, sc.Check, code, out)
			}
		})
	}
}
