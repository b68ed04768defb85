package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/vigilhq/vigil/internal/testdb"
)

// TestSeedsArePortable loads each example's seed.sql into PostgreSQL and
// MariaDB and runs the example's check there (its datasource pointed at
// the server): the examples' README promises the scripts are portable, and
// the violations are the same as on SQLite.
func TestSeedsArePortable(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "vigil")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/vigil")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build vigil: %v\n%s", err, out)
	}
	want := map[string][]string{
		"endorsements": {"P-2/EN-FLOOD-01", "P-3/EN-FLOOD-01"},
		"duplicates":   {"P-2|invoice"},
		"transitions":  {"P-2#2", "P-2#3"},
		"freshness":    {"warehouse.claims"},
		"sql":          {"P-2"},
	}
	datasource := regexp.MustCompile(`\{driver: sqlite, dsn: data.db\}`)
	for _, driver := range []string{"postgres", "mysql"} {
		for example, keys := range want {
			t.Run(driver+"/"+example, func(t *testing.T) {
				db := testdb.Open(t, driver)
				script, err := os.ReadFile(filepath.Join("..", example, "seed.sql"))
				if err != nil {
					t.Fatal(err)
				}
				db.Exec(t, Statements(string(script))...)

				dir := t.TempDir()
				cfg, err := os.ReadFile(filepath.Join("..", example, "vigil.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				dsn, _ := json.Marshal(db.DSN)
				cfg = datasource.ReplaceAll(cfg, []byte(`{driver: `+driver+`, dsn: `+string(dsn)+`}`))
				for name, body := range map[string][]byte{"vigil.yaml": cfg} {
					if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if rules, err := os.ReadFile(filepath.Join("..", example, "rules.yaml")); err == nil {
					os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644)
				}
				out, _ := exec.Command(bin, "run", "--once", "--no-store", "--format", "json", "-c", filepath.Join(dir, "vigil.yaml")).Output()
				var results []struct {
					Status, Error string
					Violations    int
					Sample        []struct{ Key string }
				}
				if err := json.Unmarshal(out, &results); err != nil || len(results) != 1 {
					t.Fatalf("run: %v\n%s", err, out)
				}
				var got []string
				for _, v := range results[0].Sample {
					got = append(got, v.Key)
				}
				if results[0].Status != "fail" || !slices.Equal(got, keys) {
					t.Errorf("status %s, keys %v (error %q); want fail with %v", results[0].Status, got, results[0].Error, keys)
				}
			})
		}
	}
}

func TestStatements(t *testing.T) {
	got := Statements("-- comment\nCREATE TABLE t (\n  a INT\n);\nINSERT INTO t VALUES (1);\n\n")
	want := []string{"CREATE TABLE t (\n  a INT\n)", "INSERT INTO t VALUES (1)"}
	if !slices.Equal(got, want) {
		t.Errorf("Statements = %q, want %q", got, want)
	}
}
