package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/s3test"
	"github.com/vigilhq/vigil/internal/sqstest"
	"github.com/vigilhq/vigil/internal/testdb"
)

// closedLoopbackPort returns a loopback port nothing listens on.
func closedLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestValidateConnect drives `vigil validate --connect` as an operator
// would: every datasource is reached (a wrong DSN, a database that is down,
// a role that may write are each a problem at the datasource's line), and
// each endorsements rule whose when key matches nothing — neither a column
// of policies_query nor an attribute name attributes_query returns (issue
// 13) — is a problem at its line in the rules file. Exit 2 on any problem,
// 0 with "ok" when there is none.
func TestValidateConnect(t *testing.T) {
	srv := sqstest.Start(t)
	pg := testdb.Postgres(t)
	pg.Exec(t,
		"CREATE TABLE policies (policy_id TEXT, transaction_type TEXT, reissue_of TEXT, state TEXT)",
		"INSERT INTO policies VALUES ('P-1', 'new', NULL, 'FL')",
		"CREATE TABLE attrs (policy_id TEXT, name TEXT, value TEXT)",
		"INSERT INTO attrs VALUES ('P-1', 'coverage', 'flood')",
		"CREATE TABLE endorsements (policy_id TEXT, endorsement TEXT)",
	)
	maria := testdb.MySQL(t)
	port := closedLoopbackPort(t)
	dir := t.TempDir()
	rules := `endorsements:
  - code: EN-FLOOD
    when: {coverage: [flood], state: [FL]}
    auto_attach: {new: yes}
  - code: EN-TYPO
    when:
      coverag: [flood]
    auto_attach: {new: yes}
  - code: EN-AGENCY
    when: {agency: [A1]}
    auto_attach: {renewal: yes}
`
	good := func(id, ds string) string {
		return fmt.Sprintf("  - id: %s\n    kind: endorsements\n    datasource: %s\n    rules: rules.yaml\n"+
			"    policies_query: SELECT policy_id, transaction_type, reissue_of, state FROM policies\n"+
			"    attributes_query: SELECT policy_id, name, value FROM attrs\n"+
			"    endorsements_query: SELECT policy_id, endorsement FROM endorsements\n", id, ds)
	}
	cfg := `store: {driver: sqlite, dsn: store.db}
datasources:
  policies: {driver: postgres, dsn: "` + pg.DSN + `"}
  nodb: {driver: postgres, dsn: "` + strings.Replace(pg.DSN, "/test?", "/no_such_database?", 1) + `"}
  down: {driver: mysql, dsn: "vigil:pw@tcp(127.0.0.1:` + fmt.Sprint(port) + `)/x?timeout=2s"}
  writer: {driver: postgres, dsn: "` + pg.AdminDSN + `"}
  warehouse: {driver: mysql, dsn: "` + maria.DSN + `"}
  rootdw: {driver: mysql, dsn: "` + maria.AdminDSN + `"}
  trusted: {driver: postgres, dsn: "` + pg.AdminDSN + `", allow_privileged: true}
  missing: {driver: sqlite, dsn: ` + filepath.Join(dir, "missing.db") + `}
  queues: {driver: sqs, region: us-east-1, endpoint: "` + srv.Endpoint + `"}
  deadqueues: {driver: sqs, region: us-east-1, endpoint: "http://127.0.0.1:` + fmt.Sprint(port) + `"}
checks:
` + good("endorse", "policies") + good("endorse-privileged", "writer")
	writeFiles(t, dir, map[string]string{
		"vigil.yaml":               cfg,
		"rules.yaml":               rules,
		"runbooks/endorse.md":      runbookText("endorse"),
		"runbooks/endorse-priv.md": runbookText("endorse-privileged"),
	})
	path := filepath.Join(dir, "vigil.yaml")
	rulesPath := filepath.Join(dir, "rules.yaml")

	// Without --connect nothing is reached: the config itself is fine.
	if stdout, stderr, code := vigil(t, nil, "validate", "-c", path); code != 0 || !strings.Contains(stdout, "ok") {
		t.Fatalf("validate without --connect: exit %d\n%s%s", code, stdout, stderr)
	}

	stdout, stderr, code := vigil(t, nil, "validate", "--connect", "-c", path)
	if code != 2 {
		t.Errorf("exit %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	at := func(name string) string { return fmt.Sprintf("%s:%d: ", path, lineOf(t, cfg, "  "+name+": {")) }
	want := []string{
		at("nodb") + "datasource nodb: connect: ",
		at("down") + "datasource down: connect: ",
		at("writer") + "datasource writer: refused: role postgres is a superuser",
		at("rootdw") + "datasource rootdw: refused: user 'root'@",
		at("missing") + "datasource missing: connect: ",
		at("deadqueues") + "datasource deadqueues: list queues: ",
		fmt.Sprintf("%s:%d: check \"endorse\": rule EN-TYPO: when key \"coverag\" is neither a column of policies_query nor an attribute name in attributes_query", rulesPath, lineOf(t, rules, "coverag:")),
		fmt.Sprintf("%s:%d: check \"endorse\": rule EN-AGENCY: when key \"agency\"", rulesPath, lineOf(t, rules, "agency")),
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem starting %q in:\n%s", w, stderr)
		}
	}
	// Reachable, read-only datasources are no problem; a when key that is
	// a column (state) or an attribute seen (coverage) is none either, and
	// the check on a refused datasource is not probed.
	for _, bad := range []string{at("policies"), at("warehouse"), at("trusted"), at("queues"), `"coverage"`, `"state"`, `check "endorse-privileged"`} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr names %s, which is fine:\n%s", bad, stderr)
		}
	}
	if !regexp.MustCompile(`level=WARN msg="datasource allows a privileged role.*datasource=trusted`).MatchString(stderr) {
		t.Errorf("no warning about allow_privileged on trusted:\n%s", stderr)
	}
	for _, secret := range []string{"pw@", maria.DSN[strings.Index(maria.DSN, ":")+1 : strings.Index(maria.DSN, "@")]} {
		if strings.Contains(stderr, secret) {
			t.Errorf("stderr leaks a DSN password %q:\n%s", secret, stderr)
		}
	}

	// The same rules file on a config whose datasources all answer and
	// whose rules all match: exit 0.
	if err := os.Remove(filepath.Join(dir, "runbooks", "endorse-priv.md")); err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(rules, "coverag:", "coverage:", 1)
	fixed = strings.Replace(fixed, "{agency: [A1]}", "{state: [GA]}", 1)
	writeFiles(t, dir, map[string]string{
		"rules.yaml": fixed,
		"vigil.yaml": "store: {driver: sqlite, dsn: store.db}\ndatasources:\n  policies: {driver: postgres, dsn: \"" + pg.DSN + "\"}\n" +
			"  queues: {driver: sqs, region: us-east-1, endpoint: \"" + srv.Endpoint + "\"}\nchecks:\n" + good("endorse", "policies"),
	})
	if stdout, stderr, code := vigil(t, nil, "validate", "--connect", "-c", path); code != 0 || !strings.Contains(stdout, "ok") {
		t.Errorf("all fine: exit %d, want 0 and ok\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// TestUnmatchableWhenKeyWarnsAtEveryRun: a typo in a when key silently
// disables a rule (issue 13), so every run of the check logs a warning
// naming the check, the rule, the key and its place in the rules file.
func TestUnmatchableWhenKeyWarnsAtEveryRun(t *testing.T) {
	db := testdb.SQLite(t)
	db.Exec(t,
		"CREATE TABLE policies (policy_id TEXT, transaction_type TEXT, reissue_of TEXT, state TEXT)",
		"INSERT INTO policies VALUES ('P-1', 'new', NULL, 'FL')",
		"CREATE TABLE endorsements (policy_id TEXT, endorsement TEXT)",
	)
	dir := t.TempDir()
	rules := "endorsements:\n  - code: EN-1\n    when: {stat: [FL]}\n    auto_attach: {new: yes}\n"
	writeFiles(t, dir, map[string]string{
		"rules.yaml": rules,
		"vigil.yaml": "store: {driver: sqlite, dsn: store.db}\ndatasources:\n  db: {driver: sqlite, dsn: " + db.DSN + "}\nchecks:\n" +
			"  - id: endorse\n    kind: endorsements\n    datasource: db\n    rules: rules.yaml\n" +
			"    policies_query: SELECT policy_id, transaction_type, reissue_of, state FROM policies\n" +
			"    endorsements_query: SELECT policy_id, endorsement FROM endorsements\n",
	})
	warning := regexp.MustCompile(`level=WARN msg="endorsements: a when key names no column of policies_query and no attribute in attributes_query: the rule never applies" check=endorse code=EN-1 key=stat rules=` +
		regexp.QuoteMeta(filepath.Join(dir, "rules.yaml")) + `:3`)
	for run := 1; run <= 2; run++ {
		results, _, _, stderr := contractRun(t, nil, filepath.Join(dir, "vigil.yaml"))
		if r := results["endorse"]; r.Status != "pass" {
			t.Errorf("run %d: status %s, want pass: the rule never applies", run, r.Status)
		}
		if !warning.MatchString(stderr) {
			t.Errorf("run %d: no warning matching %s in:\n%s", run, warning, stderr)
		}
	}
}

// TestValidateConnectS3 drives `vigil validate --connect` on s3_freshness
// checks against a real S3-compatible server (s3rver): a bucket that
// exists and may be listed is fine; one that does not exist is reported
// at its check's line with S3's own error code (NoSuchBucket, as the S3
// API reference names it for ListObjectsV2), and the exit code is 2.
func TestValidateConnectS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "landing")
	dir := t.TempDir()
	check := func(id, bucket string) string {
		return fmt.Sprintf("  - id: %s\n    kind: s3_freshness\n    datasource: lake\n    bucket: %s\n"+
			"    prefixes:\n      - {prefix: raw/sales/, warn_after: 2h}\n", id, bucket)
	}
	cfg := "store: {driver: sqlite, dsn: store.db}\ndatasources:\n  lake: {driver: s3, region: " + s3test.Region +
		", endpoint: \"" + srv.Endpoint + "\"}\nchecks:\n" + check("sales", "landing") + check("typo", "landnig")
	writeFiles(t, dir, map[string]string{
		"vigil.yaml":        cfg,
		"runbooks/sales.md": runbookText("sales"),
		"runbooks/typo.md":  runbookText("typo"),
	})
	path := filepath.Join(dir, "vigil.yaml")
	stdout, stderr, code := vigil(t, nil, "validate", "--connect", "-c", path)
	if code != 2 {
		t.Errorf("exit %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	want := fmt.Sprintf("%s:%d: check \"typo\": bucket \"landnig\" on datasource lake: list objects: NoSuchBucket", path, lineOf(t, cfg, "  - id: typo"))
	if !strings.Contains(stderr, want) {
		t.Errorf("no problem %q in:\n%s", want, stderr)
	}
	if strings.Contains(stderr, `check "sales"`) {
		t.Errorf("the reachable bucket is reported:\n%s", stderr)
	}
}
