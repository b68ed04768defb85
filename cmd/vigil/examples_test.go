package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/sqstest"
)

// TestExamples: examples/ holds one complete setup per kind (issue 15);
// `vigil validate` accepts each without a warning, the schema accepts each,
// and each runs: the SQL kinds on their seeded SQLite data, sqs_dlq on a
// real SQS-compatible server, each failing on the violation its seed
// plants.
func TestExamples(t *testing.T) {
	sch := compiledSchema(t)
	paths, err := filepath.Glob(filepath.Join(repoRoot, "examples", "*", "vigil*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// validate only reads these
	t.Setenv("SQS_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("S3_ENDPOINT", "")
	t.Setenv("APPSYNC_API_KEY", "da2-example")
	covered := map[string]bool{}
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			stdout, stderr, code := vigil(t, nil, "validate", "-c", path)
			if code != 0 || stderr != "" {
				t.Errorf("validate: exit %d\n%s%s", code, stdout, stderr)
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateYAML(sch, string(text)); err != nil {
				t.Errorf("the schema rejects %s: %v", path, err)
			}
			if !strings.HasPrefix(string(text), "# yaml-language-server: $schema=../vigil.schema.json\n") {
				t.Errorf("%s does not start with the yaml-language-server line", path)
			}
			cfg, err := config.Load(path, kinds())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cfg.Checks {
				covered[c.Kind] = true
			}
		})
	}
	for _, kind := range kinds().Names() {
		if !covered[kind] {
			t.Errorf("no example of kind %s in examples/", kind)
		}
	}

	// The examples' schema file is what `vigil schema` prints.
	onDisk, err := os.ReadFile(filepath.Join(repoRoot, "examples", "vigil.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, schemaJSON(t)) {
		t.Error("examples/vigil.schema.json is stale: run `go run ./cmd/vigil schema > examples/vigil.schema.json`")
	}
}

// TestExamplesRun seeds each SQL example with `go run ./examples/seed` (as
// its README says) into a copy, and runs it: each fails with the
// violations its seed plants, which follow from DESIGN.md's rule for the
// kind.
func TestExamplesRun(t *testing.T) {
	tests := []struct {
		example string
		keys    []string // the violation keys, sorted
	}{
		// P-2 (new, FL, flood) lacks EN-FLOOD-01; P-3 reissues P-1, which
		// has one copy, and has none. P-4 is in TX: no rule applies.
		{"endorsements", []string{"P-2/EN-FLOOD-01", "P-3/EN-FLOOD-01"}},
		// P-2's two invoices are 300 ms apart (within 2s); P-1's are an
		// hour apart; P-2's id_card is another key.
		{"duplicates", []string{"P-2|invoice"}},
		// P-2: quoted -> issued (event 2) and issued -> bound (event 3) are
		// not allowed.
		{"transitions", []string{"P-2#2", "P-2#3"}},
		// claims was last loaded on 2026-01-01, older than 72h; policies now.
		{"freshness", []string{"warehouse.claims"}},
		{"sql", []string{"P-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.example, func(t *testing.T) {
			dir := exampleCopy(t, tt.example, true)
			results, stderr, code := runJSON(t, filepath.Join(dir, "vigil.yaml"))
			if code != 1 || len(results) != 1 || results[0].Status != "fail" {
				t.Fatalf("run: exit %d, results %+v\n%s", code, results, stderr)
			}
			var keys []string
			for _, v := range results[0].Sample {
				keys = append(keys, v.Key)
			}
			if !slices.Equal(keys, tt.keys) || results[0].Violations != len(tt.keys) {
				t.Errorf("violations %d %v, want %v", results[0].Violations, keys, tt.keys)
			}
			if _, err := os.Stat(filepath.Join(dir, "vigil.db")); !os.IsNotExist(err) {
				t.Errorf("run --once --no-store created the store: %v", err)
			}
		})
	}

	t.Run("sqs_dlq", func(t *testing.T) {
		srv := sqstest.Start(t)
		pair := srv.CreatePair(t, "orders", "orders-dlq", 1, nil, nil)
		srv.FailMessages(t, pair, 11) // fail_above: 10
		t.Setenv("SQS_ENDPOINT", srv.Endpoint)
		results, stderr, code := runJSON(t, filepath.Join(repoRoot, "examples", "sqs_dlq", "vigil.yaml"))
		if code != 1 || len(results) != 1 || results[0].Status != "fail" || results[0].Violations != 1 || results[0].Sample[0].Key != "orders-dlq" {
			t.Errorf("run: exit %d, results %+v\n%s", code, results, stderr)
		}
	})
}

type exampleResult struct {
	Check, Status string
	Violations    int
	Sample        []struct{ Key, Detail string }
	Error         string
}

// runJSON runs `vigil run --once --no-store --format json` on path.
func runJSON(t *testing.T, path string) ([]exampleResult, string, int) {
	t.Helper()
	stdout, stderr, code := vigil(t, nil, "run", "--once", "--no-store", "--format", "json", "-c", path)
	var out []exampleResult
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("run output is not JSON: %v\n%s\n%s", err, stdout, stderr)
	}
	return out, stderr, code
}

// exampleCopy copies examples/<name> into a temporary folder (a store is
// written beside its config) and returns the folder; with seed, it seeds
// the copy as the example's README says: `go run ./examples/seed DIR`.
func exampleCopy(t *testing.T, name string, seed bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	copyDir(t, filepath.Join(repoRoot, "examples", name), dir)
	if seed {
		cmd := exec.Command("go", "run", "./examples/seed", dir)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go run ./examples/seed: %v\n%s", err, out)
		}
	}
	return dir
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if strings.HasSuffix(path, ".db") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadmeRealisticDataExample runs the README's "realistic data"
// commands as written, on a fresh folder: issue 15 found they failed on a
// fresh clone (the seed could not create /tmp/demo, and `vigil` was not on
// the PATH of someone who had only cloned the repository). Only the folder
// is changed, so concurrent test runs do not share it.
func TestReadmeRealisticDataExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sh\n(go run ./internal/demo/seedcmd [^`]*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no ```sh block starting with go run ./internal/demo/seedcmd")
	}
	dir := filepath.Join(t.TempDir(), "fresh", "demo") // does not exist yet
	script := strings.ReplaceAll(string(m[1]), "/tmp/demo", dir)
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
		line, _, _ = strings.Cut(line, "  #")
		lines = append(lines, strings.TrimSpace(line))
	}
	if len(lines) != 2 || !strings.Contains(lines[1], "run --once -c internal/demo/example/vigil.yaml") {
		t.Fatalf("README's realistic-data block changed shape: %q", lines)
	}
	for i, line := range lines {
		cmd := exec.Command("sh", "-ec", line)
		cmd.Dir = repoRoot // vigil is not installed: the block must not need it
		out, err := cmd.CombinedOutput()
		code := cmd.ProcessState.ExitCode()
		switch {
		case i == 0 && err != nil:
			t.Fatalf("%s: %v\n%s", line, err, out)
		case i == 1 && (code != 1 || !regexp.MustCompile(`duplicate-documents\s+fail`).Match(out) || regexp.MustCompile(`\serror\s`).Match(out)):
			// double-write makes duplicate-documents fail (exit 1); no check errors.
			t.Errorf("%s: exit %d, want 1 with duplicate-documents failing and no check in error\n%s", line, code, out)
		}
	}
}
