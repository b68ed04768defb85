package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/s3test"
)

// The s3_freshness example, run by the binary against a real S3-compatible
// server (s3rver, credentials from the AWS default chain in the
// environment): a newest partition short of files and holding an empty one
// fails; a fresh Firehose-style prefix passes. Exit 1: a check failed.
func TestS3FreshnessExampleRuns(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "acme-landing")
	srv.Put(t, "acme-landing", "raw/sales/dt=2026-12-02/part-0000.csv", 500)
	srv.Put(t, "acme-landing", "raw/sales/dt=2026-12-03/part-0000.csv", 500)
	srv.Put(t, "acme-landing", "raw/sales/dt=2026-12-03/part-0001.csv", 0)
	srv.Put(t, "acme-landing", "raw/sales/dt=2026-12-03/_SUCCESS", 0)
	srv.Put(t, "acme-landing", "raw/clickstream/2026/12/03/10/clicks-1", 90)

	cfg := filepath.Join(exampleCopy(t, "s3_freshness", false), "vigil.yaml")
	stdout, stderr, code := vigil(t, []string{"S3_ENDPOINT=" + srv.Endpoint}, "run", "--once", "-c", cfg, "--format", "json")
	if code != exitFail {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFail, stdout, stderr)
	}
	var results []checks.Result
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(results) != 1 || results[0].Kind != "s3_freshness" || results[0].Status != checks.Fail || results[0].Violations != 2 {
		t.Fatalf("results %+v", results)
	}
	var keys []string
	for _, v := range results[0].Sample {
		keys = append(keys, v.Key)
	}
	if want := []string{"raw/sales/", "raw/sales/dt=2026-12-03/part-0001.csv"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	if d := results[0].Sample[0].Detail; !strings.HasPrefix(d, "2 objects in the newest partition dt=2026-12-03/, want at least 16 (newest object raw/sales/dt=2026-12-03/part-0001.csv landed ") {
		t.Errorf("detail %q", d)
	}
}

// Every mistake in the new fields is reported by `vigil validate` with its
// file and line, all at once.
func TestValidateSeedKindFields(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"runbooks/landing.md": runbookText("landing"),
		"runbooks/api.md":     runbookText("api"),
		"vigil.yaml": `datasources:
  lake: {driver: s3, region: eu-west-1}
checks:
  - id: landing
    kind: s3_freshness
    datasource: lake
    runbook: landing
    bucket: Acme_Landing
    prefixes:
      - {prefix: raw/a/, warn_after: 2h}
      - prefix: /raw/b/
        warn_after: 6h
        error_after: 2h
        min_bytes: -1
  - id: api
    kind: http
    runbook: api
    url: http://api.example.com/graphql
    headers_file: {X-Api-Key: missing.key}
    graphql: {variables: {state: FL}}
    json:
      - {path: data.quote.premium, min: 10, max: 1}
    tls: {min_days_left: 14}
`,
	})
	stdout, stderr, code := vigil(t, nil, "validate", "-c", filepath.Join(dir, "vigil.yaml"))
	if code != exitBroken {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitBroken, stdout, stderr)
	}
	cfg := filepath.Join(dir, "vigil.yaml")
	for _, want := range []string{
		cfg + `:8: check "landing": bucket "Acme_Landing" is not a valid S3 bucket name`,
		cfg + `:11: check "landing": prefix "/raw/b/" starts with '/'`,
		cfg + `:12: check "landing": warn_after (6h) must not be longer than error_after (2h)`,
		cfg + `:14: check "landing": min_bytes must not be negative, got -1`,
		cfg + `:19: check "api": headers_file: cannot read "missing.key": no such file or directory`,
		cfg + `:20: check "api": graphql.query is required`,
		cfg + `:22: check "api": min (10) must not be greater than max (1)`,
		cfg + `:23: check "api": tls needs an https:// url`,
	} {
		if !strings.Contains(stdout+stderr, want) {
			t.Errorf("output lacks %q\n%s%s", want, stdout, stderr)
		}
	}
}

// TestExecRedactsHeaderSecrets: an http check's header credentials from
// ${ENV} and from headers_file are secrets of the config: whatever a
// script prints of them is masked before it is stored.
func TestExecRedactsHeaderSecrets(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"appsync.key": "da2-filekey-77aa91\n",
		"vigil.yaml": `
store: {driver: sqlite, dsn: store.db}
datasources: {}
checks:
  - id: api
    kind: http
    url: "https://api.example.com/graphql"
    headers: {Authorization: "Bearer ${VIGIL_TEST_API_TOKEN}"}
    headers_file: {X-Api-Key: appsync.key}
    graphql: {query: "{ quote { premium } }"}
    schedule: "@every 1h"
`})
	cfg := filepath.Join(dir, "vigil.yaml")
	t.Setenv("VIGIL_TEST_API_TOKEN", "tok-env-4242aa")
	_, stderr, code := vigil(t, nil, "exec", "-c", cfg, "--purpose", "leak test", "--", "sh", "-c", `printf '%s|%s\n' da2-filekey-77aa91 tok-env-4242aa`)
	if code != 0 {
		t.Fatalf("exec: exit %d\n%s", code, stderr)
	}
	run := showRun(t, cfg, runID(t, stderr))
	if want := "[REDACTED]|[REDACTED]\n"; run.Output == nil || *run.Output != want {
		t.Errorf("stored output = %q, want %q", deref(run.Output), want)
	}
}
