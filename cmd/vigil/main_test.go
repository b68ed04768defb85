package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/testdb"
)

// vigilBin is the real binary, built once for the end-to-end tests.
var vigilBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-bin")
	if err != nil {
		panic(err)
	}
	vigilBin = filepath.Join(dir, "vigil")
	build := exec.Command("go", "build", "-o", vigilBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build vigil: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// vigil runs the binary and returns stdout, stderr and the exit code.
func vigil(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return vigilIn(t, "", env, args...)
}

// vigilIn is vigil run in the folder dir ("" for this one).
func vigilIn(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), vigilBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run vigil %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// writeFiles writes name -> content under dir.
// testScriptlogKey is the script log key of the test configs that have
// auth (vigil serve requires one then): writeFiles it as scriptlog.key next
// to a config holding `scriptlog: {key_file: scriptlog.key}`.
const testScriptlogKey = "vigil-test-scriptlog-key-0123456789"

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runbookText(id string) string {
	return "---\ntitle: " + id + "\nchecks: [" + id + "]\n---\n## Meaning\nm\n## Impact\ni\n## Diagnosis\nd\n## Mitigation\nx\n## Escalation\ne\n"
}

// TestRunOnceOnEveryDriver runs a config with a passing, a failing and a
// broken check against each validated-database driver and checks the JSON
// contract and the exit code.
func TestRunOnceOnEveryDriver(t *testing.T) {
	for _, driver := range testdb.Drivers {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			db.Exec(t,
				"CREATE TABLE premiums (policy_id VARCHAR(20), premium INTEGER)",
				"INSERT INTO premiums VALUES ('P-1#9', -5), ('P-1#10', 0), ('P-2', 100)",
			)
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"vigil.yaml": `
store: {driver: sqlite, dsn: store.db}
datasources:
  policies: {driver: ` + driver + `, dsn: "${POLICY_DSN}"}
checks:
  - id: negative-premiums
    kind: sql
    datasource: policies
    query: SELECT policy_id, premium FROM premiums WHERE premium <= 0
  - id: all-good
    kind: sql
    datasource: policies
    query: SELECT policy_id FROM premiums WHERE premium > 1000
  - id: broken
    kind: sql
    datasource: policies
    query: SELECT nope FROM missing_table
`,
			})
			env := []string{"POLICY_DSN=" + db.DSN}
			stdout, stderr, code := vigil(t, env, "run", "--once", "-c", filepath.Join(dir, "vigil.yaml"), "--format", "json")
			if code != 2 {
				t.Fatalf("exit code = %d, want 2 (a check errored)\nstderr: %s", code, stderr)
			}
			var results []map[string]any
			if err := json.Unmarshal([]byte(stdout), &results); err != nil {
				t.Fatalf("stdout is not a JSON array: %v\n%s", err, stdout)
			}
			if len(results) != 3 {
				t.Fatalf("got %d results, want 3", len(results))
			}
			for _, r := range results {
				for _, field := range []string{"check", "kind", "status", "violations", "sample", "duration_ms", "error"} {
					if _, ok := r[field]; !ok {
						t.Errorf("result %v lacks %q", r["check"], field)
					}
				}
			}
			fail := results[0]
			if fail["check"] != "negative-premiums" || fail["status"] != "fail" || fail["violations"] != float64(2) {
				t.Errorf("negative-premiums = %v", fail)
			}
			sample, _ := fail["sample"].([]any)
			if len(sample) != 2 {
				t.Fatalf("negative-premiums sample = %v, want 2 violations", sample)
			}
			if first := sample[0].(map[string]any); first["key"] != "P-1#10" || first["detail"] != "premium=0" {
				t.Errorf("first sample = %v, want P-1#10 with premium=0 (byte-wise order)", first)
			}
			if pass := results[1]; pass["status"] != "pass" || len(pass["sample"].([]any)) != 0 || pass["error"] != "" {
				t.Errorf("all-good = %v", pass)
			}
			broken := results[2]
			if broken["status"] != "error" || !strings.Contains(broken["error"].(string), "check broken") || !strings.Contains(broken["error"].(string), "datasource policies") {
				t.Errorf("broken = %v; want error naming the check and datasource", broken)
			}

			// Selecting only the failing check exits 1; only the passing one, 0.
			if _, stderr, code := vigil(t, env, "run", "--once", "-c", filepath.Join(dir, "vigil.yaml"), "--check", "negative-premiums"); code != 1 {
				t.Errorf("--check negative-premiums: exit %d, want 1\n%s", code, stderr)
			}
			if out, _, code := vigil(t, env, "run", "--once", "-c", filepath.Join(dir, "vigil.yaml"), "--check", "all-good"); code != 0 || !strings.Contains(out, "all-good") {
				t.Errorf("--check all-good: exit %d, want 0\n%s", code, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "store.db")); err != nil {
				t.Errorf("results were not recorded in the store: %v", err)
			}
		})
	}
}

func TestRunOnceRefusesWrites(t *testing.T) {
	db := testdb.SQLite(t)
	db.Exec(t, "CREATE TABLE t (id INTEGER)", "INSERT INTO t VALUES (1)")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
datasources:
  db: {driver: sqlite, dsn: ` + db.DSN + `}
checks:
  - {id: writer, kind: sql, datasource: db, query: "DELETE FROM t RETURNING id"}
`})
	stdout, _, code := vigil(t, nil, "run", "--once", "-c", filepath.Join(dir, "vigil.yaml"), "--format", "json")
	var results []checks.Result
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatal(err)
	}
	if code != 2 || results[0].Status != checks.Error {
		t.Fatalf("exit %d, status %s; want 2 and error", code, results[0].Status)
	}
	var n int
	if err := db.Admin.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows left = %d (%v); the check wrote to the database", n, err)
	}
}

func TestBadConfigExits2WithEveryProblem(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `datasources:
  db: {driver: sqlite, dsn: x.db}
checks:
  - id: Bad_ID
    kind: sql
    datasource: db
    query: SELECT 1
  - id: two
    kind: nosuchkind
  - id: three
    kind: sql
    datasource: missing
    query: SELECT 1
    schedule: "every day"
`})
	for _, cmd := range [][]string{{"validate"}, {"run", "--once"}} {
		_, stderr, code := vigil(t, nil, append(cmd, "-c", filepath.Join(dir, "vigil.yaml"))...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", cmd, code)
		}
		for _, want := range []string{"vigil.yaml:4:", "vigil.yaml:9:", "vigil.yaml:12:", "vigil.yaml:14:"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", cmd, want, stderr)
			}
		}
	}
}

func TestValidateRunbooks(t *testing.T) {
	db := testdb.SQLite(t)
	db.Exec(t, "CREATE TABLE t (id INTEGER)")
	dir := t.TempDir()
	cfg := `
datasources:
  db: {driver: sqlite, dsn: ` + db.DSN + `}
checks:
  - {id: covered, kind: sql, datasource: db, query: SELECT 1, runbook: covered}
  - {id: uncovered, kind: sql, datasource: db, query: SELECT 1}
`
	writeFiles(t, dir, map[string]string{
		"vigil.yaml":          cfg,
		"runbooks/covered.md": runbookText("covered"),
		"runbooks/orphan.md":  runbookText("ghost"),
		"runbooks/partial.md": "---\ntitle: p\nchecks: [covered]\n---\n## Meaning\n",
		"runbooks/README.txt": "not a runbook",
	})
	_, stderr, code := vigil(t, nil, "validate", "-c", filepath.Join(dir, "vigil.yaml"))
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{
		`warning: ` + filepath.Join(dir, "vigil.yaml") + `:6: check "uncovered" has no runbook`,
		`orphan.md:3: runbook names unknown check "ghost"`,
		`partial.md:1: runbook has no "Impact" section`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	// Fixed: every check has a complete runbook.
	writeFiles(t, dir, map[string]string{"runbooks/uncovered.md": runbookText("uncovered")})
	os.Remove(filepath.Join(dir, "runbooks/orphan.md"))
	os.Remove(filepath.Join(dir, "runbooks/partial.md"))
	if out, stderr, code := vigil(t, nil, "validate", "-c", filepath.Join(dir, "vigil.yaml")); code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, stderr)
	}
	// run --once only warns about runbook problems and still runs.
	os.Remove(filepath.Join(dir, "runbooks/uncovered.md"))
	_, stderr, code = vigil(t, nil, "run", "--once", "-c", filepath.Join(dir, "vigil.yaml"))
	if code != 1 || !strings.Contains(stderr, "warning:") {
		t.Errorf("run with a missing runbook: exit %d (want 1: SELECT 1 returns a row), stderr %q", code, stderr)
	}
}

func TestUsage(t *testing.T) {
	if _, stderr, code := vigil(t, nil, "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := vigil(t, nil, "run", "-c", "x.yaml"); code != 2 || !strings.Contains(stderr, "--once") {
		t.Errorf("run without --once: exit %d, stderr %q", code, stderr)
	}
}

func TestHashPassword(t *testing.T) {
	cmd := exec.Command(vigilBin, "hash-password")
	cmd.Stdin = strings.NewReader("correct horse\n")
	out, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(out), "$argon2id$") {
		t.Fatalf("hash-password = %q, %v; want an argon2id PHC string", out, err)
	}
	cmd = exec.Command(vigilBin, "hash-password")
	cmd.Stdin = strings.NewReader("")
	if err := cmd.Run(); err == nil {
		t.Fatal("an empty password was hashed")
	}
}
