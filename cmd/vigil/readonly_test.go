package main

// The read-only guarantee under attack (issue 12 §1): a check never writes
// to the database it validates, whatever its queries say.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/testdb"
)

// roAttack is one attempt to write through a check: the check's YAML
// (kind and kind fields; {{victim}} is the victim session's id, {{file}}
// a path the server could write to, {{dblink}} dblink_exec qualified).
type roAttack struct {
	name  string
	check string
	// escape marks an attack on the transaction itself (rather than a
	// server-level side effect): it must also fail for a superuser on a
	// datasource set to allow_privileged, where only the read-only
	// transaction stands in the way.
	escape bool
	// want is what the error says when the transaction stops it.
	want string
}

// roAttacks are the bypasses of issue 12 per server, as an operator's
// config could write them. SQL semantics: COMMIT/ROLLBACK end the
// transaction (PostgreSQL, MariaDB), SET default_transaction_read_only
// and SET SESSION TRANSACTION READ WRITE make the next transaction
// writable, a data-modifying CTE writes (PostgreSQL); pg_terminate_backend,
// COPY TO a file, dblink_exec, SET GLOBAL, KILL and SELECT INTO OUTFILE act
// outside the transaction, where only privileges stop them.
func roAttacks(driver string) []roAttack {
	left := "query 1 left the read-only transaction"
	if driver == "postgres" {
		del := "WITH d AS (DELETE FROM victim RETURNING id) SELECT id AS policy_id, 'x' AS endorsement FROM d"
		return []roAttack{
			{name: "endorsements COMMIT, SET, DELETE", escape: true, want: "policies_query: " + left, check: "kind: endorsements\n" +
				"rules: rules.yaml\npolicies_query: COMMIT\nattributes_query: SET default_transaction_read_only = off\nendorsements_query: \"" + del + "\""},
			{name: "sql SET", escape: true, want: "query 1 returns no result set, it is not a SELECT", check: "kind: sql\nquery: SET default_transaction_read_only = off"},
			{name: "sql COMMIT", escape: true, want: left, check: "kind: sql\nquery: COMMIT"},
			{name: "freshness COMMIT, SET, DELETE", escape: true, want: "table a: " + left, check: "kind: freshness\ntables:\n" +
				"  - {name: a, query: COMMIT, warn_after: 1h}\n  - {name: b, query: SET default_transaction_read_only = off, warn_after: 1h}\n" +
				"  - {name: c, query: \"WITH d AS (DELETE FROM victim RETURNING id) SELECT now() FROM d\", warn_after: 1h}"},
			{name: "duplicates ROLLBACK", escape: true, want: left, check: "kind: duplicates\nquery: ROLLBACK\nkey_columns: [k]\nwindow: 1s"},
			{name: "transitions COMMIT", escape: true, want: left, check: "kind: transitions\nquery: COMMIT\nallowed: {a: [b]}"},
			{name: "pg_terminate_backend", check: "kind: sql\nquery: SELECT pg_terminate_backend({{victim}}) AS key"},
			{name: "COPY TO file", check: "kind: sql\nquery: \"COPY (SELECT 1) TO '{{file}}'\""},
			{name: "dblink_exec", check: "kind: sql\nquery: \"SELECT {{dblink}}('{{dblink_conn}}', 'DELETE FROM {{schema}}.victim') AS key\""},
		}
	}
	return []roAttack{
		{name: "endorsements COMMIT, SET, DELETE", escape: true, want: "policies_query: " + left, check: "kind: endorsements\n" +
			"rules: rules.yaml\npolicies_query: COMMIT\nattributes_query: SET SESSION TRANSACTION READ WRITE\nendorsements_query: DELETE FROM victim"},
		{name: "sql SET SESSION TRANSACTION READ WRITE", escape: true, want: left, check: "kind: sql\nquery: SET SESSION TRANSACTION READ WRITE"},
		{name: "sql COMMIT", escape: true, want: left, check: "kind: sql\nquery: COMMIT"},
		{name: "sql DELETE", escape: true, check: "kind: sql\nquery: DELETE FROM victim"},
		{name: "freshness COMMIT, SET, DELETE", escape: true, want: "table a: " + left, check: "kind: freshness\ntables:\n" +
			"  - {name: a, query: COMMIT, warn_after: 1h}\n  - {name: b, query: SET SESSION TRANSACTION READ WRITE, warn_after: 1h}\n" +
			"  - {name: c, query: DELETE FROM victim, warn_after: 1h}"},
		{name: "duplicates ROLLBACK", escape: true, want: left, check: "kind: duplicates\nquery: ROLLBACK\nkey_columns: [k]\nwindow: 1s"},
		{name: "transitions COMMIT", escape: true, want: left, check: "kind: transitions\nquery: COMMIT\nallowed: {a: [b]}"},
		{name: "SET GLOBAL", check: "kind: sql\nquery: SET GLOBAL net_read_timeout = 37"},
		{name: "KILL", check: "kind: sql\nquery: KILL {{victim}}"},
		{name: "SELECT INTO OUTFILE", check: "kind: sql\nquery: \"SELECT id FROM victim INTO OUTFILE '{{file}}'\""},
	}
}

// roRole is one way the datasource connects.
type roRole struct {
	name, dsn, extra string
	// want is what every attack's error says for this role ("" when the
	// attack's own want applies).
	want string
}

func TestReadOnlyUnderAttack(t *testing.T) {
	for _, driver := range []string{"postgres", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			db.Exec(t, "CREATE TABLE victim (id INT)")
			var admin string
			if err := db.Admin.QueryRow("SELECT current_user").Scan(&admin); err != nil {
				t.Fatal(err)
			}
			refused := "refused: role " + admin + " is a superuser"
			if driver == "mysql" {
				refused = "refused: user '" + strings.ReplaceAll(admin, "@", "'@'") + "' has ALL PRIVILEGES on *.*"
			}
			roles := []roRole{
				{name: "read-only role", dsn: db.DSN},
				{name: "superuser", dsn: db.AdminDSN, want: refused},
				{name: "superuser, allow_privileged", dsn: db.AdminDSN, extra: ", allow_privileged: true"},
			}
			vars := map[string]string{}
			if driver == "postgres" {
				schema := db.Role // testdb names the schema after the role
				db.Exec(t, "CREATE EXTENSION IF NOT EXISTS dblink SCHEMA "+schema)
				var ext string
				if err := db.Admin.QueryRow("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'dblink'").Scan(&ext); err != nil {
					t.Fatal(err)
				}
				vars["{{dblink}}"] = ext + ".dblink_exec"
				vars["{{dblink_conn}}"] = strings.SplitN(testdb.PostgresAdmin, "?", 2)[0] // the administrator's own URL
				vars["{{schema}}"] = schema
			}
			for _, role := range roles {
				for _, a := range roAttacks(driver) {
					if role.extra != "" && !a.escape {
						continue // allow_privileged opts out of the privilege check: documented, not tested by harm
					}
					t.Run(role.name+"/"+a.name, func(t *testing.T) {
						before, after, res, effects := runAttack(t, db, role, a, vars)
						t.Logf("ROWS %s | %s | %s | victim rows %d -> %d | %s | %s | %s", driver, role.name, a.name, before, after, res.Status, strings.Join(effects, ", "), res.Error)
						if res.Status != "error" {
							t.Errorf("status %q, want error (error %q)", res.Status, res.Error)
						}
						if after != before {
							t.Errorf("victim rows %d -> %d: the check wrote", before, after)
						}
						if len(effects) > 0 {
							t.Errorf("side effects: %s", strings.Join(effects, ", "))
						}
						want := role.want
						if want == "" && role.extra != "" {
							want = a.want
						}
						if want != "" && !strings.Contains(res.Error, want) {
							t.Errorf("error %q, want it to say %q", res.Error, want)
						}
					})
				}
			}
		})
	}
}

// runAttack seeds the victim table and a victim session, runs the attack
// as a check with `vigil run --once`, and returns the victim's rows before
// and after, the result, and each side effect observed.
func runAttack(t *testing.T, db *testdb.DB, role roRole, a roAttack, vars map[string]string) (before, after int, res kcResult, effects []string) {
	t.Helper()
	ctx := context.Background()
	db.Exec(t, "DELETE FROM victim", "INSERT INTO victim VALUES (1), (2), (3)")
	victim, err := db.Admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	var victimID int64
	idQuery := "SELECT pg_backend_pid()"
	if db.Driver == "mysql" {
		idQuery = "SELECT CONNECTION_ID()"
	}
	if err := victim.QueryRowContext(ctx, idQuery).Scan(&victimID); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(os.TempDir(), "vigil-attack-"+strings.ReplaceAll(t.Name(), "/", "-"))
	os.Remove(file)
	defer os.Remove(file)
	check := a.check
	for k, v := range vars {
		check = strings.ReplaceAll(check, k, v)
	}
	check = strings.NewReplacer("{{victim}}", fmt.Sprint(victimID), "{{file}}", file).Replace(check)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules.yaml": "endorsements:\n  - code: X\n    auto_attach: {new: yes}\n",
		"vigil.yaml": "store: {driver: sqlite, dsn: store.db}\ndatasources:\n  db: {driver: " + db.Driver + ", dsn: \"${ATTACK_DSN}\"" + role.extra + "}\n" +
			"checks:\n  - id: attack\n    datasource: db\n    " + strings.ReplaceAll(check, "\n", "\n    ") + "\n",
	})
	count := func() int {
		var n int
		if err := db.Admin.QueryRow("SELECT count(*) FROM victim").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var global int
	if db.Driver == "mysql" {
		if err := db.Admin.QueryRow("SELECT @@GLOBAL.net_read_timeout").Scan(&global); err != nil {
			t.Fatal(err)
		}
	}
	before = count()
	results, _, _, stderr := contractRun(t, []string{"ATTACK_DSN=" + role.dsn}, filepath.Join(dir, "vigil.yaml"))
	after = count()
	r := results["attack"]
	res = kcResult{Status: r.Status, Error: deref(r.Error)}
	warned := strings.Contains(stderr, `level=WARN msg="datasource allows a privileged role`)
	if allowed := role.extra != ""; warned != allowed {
		t.Errorf("allow_privileged %v, warned %v:\n%s", allowed, warned, stderr)
	}
	if err := victim.PingContext(ctx); err != nil {
		effects = append(effects, "victim session killed")
	}
	if serverHasFile(t, db, file) {
		effects = append(effects, "file written")
	}
	if db.Driver == "mysql" {
		var now int
		if err := db.Admin.QueryRow("SELECT @@GLOBAL.net_read_timeout").Scan(&now); err != nil {
			t.Fatal(err)
		}
		if now != global {
			effects = append(effects, fmt.Sprintf("global net_read_timeout %d -> %d", global, now))
			db.Exec(t, fmt.Sprintf("SET GLOBAL net_read_timeout = %d", global))
		}
	}
	return before, after, res, effects
}

// serverHasFile asks the database server (which may not share this test's
// file system) whether path exists.
func serverHasFile(t *testing.T, db *testdb.DB, path string) bool {
	t.Helper()
	var q string
	switch db.Driver {
	case "postgres":
		q = "SELECT (pg_stat_file($1, true)).size IS NOT NULL" // the record has fields NULL on Unix (creation)
	default:
		q = "SELECT LOAD_FILE(?) IS NOT NULL"
	}
	var has sql.NullBool
	if err := db.Admin.QueryRow(q, path).Scan(&has); err != nil {
		t.Fatal(err)
	}
	return has.Bool
}

// TestServeVetsDatasourcesAndSurvivesOnesThatAreDown: serve starts whatever
// its datasources do. A datasource whose role may write is logged as
// refused at start and its checks end in error saying why; one that is down
// at start is logged as unreachable, its checks end in error, and once it
// answers its role is inspected and its checks run; allow_privileged is
// warned about at start.
func TestServeVetsDatasourcesAndSurvivesOnesThatAreDown(t *testing.T) {
	pg := testdb.Postgres(t)
	pg.Exec(t, "CREATE TABLE t (a INT)")
	port := closedLoopbackPort(t) // down until the proxy below listens there
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	upstream := u.Host
	u.Host = fmt.Sprintf("127.0.0.1:%d", port)
	down := u.String() + "&connect_timeout=2"
	dir := t.TempDir()
	check := func(id, ds string) string {
		return "  - {id: " + id + ", kind: sql, datasource: " + ds + `, schedule: "@every 1s", query: "SELECT a AS key FROM t"}` + "\n"
	}
	writeFiles(t, dir, map[string]string{"vigil.yaml": "datasources:\n" +
		"  good: {driver: postgres, dsn: \"" + pg.DSN + "\"}\n" +
		"  writer: {driver: postgres, dsn: \"" + pg.AdminDSN + "\"}\n" +
		"  trusted: {driver: postgres, dsn: \"" + pg.AdminDSN + "\", allow_privileged: true}\n" +
		"  later: {driver: postgres, dsn: \"" + down + "\"}\n" +
		"checks:\n" + check("on-good", "good") + check("on-writer", "writer") + check("on-trusted", "trusted") + check("on-later", "later"),
	})
	_, _, logs := startServe(t, filepath.Join(dir, "vigil.yaml"))
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`level=ERROR msg="datasource refused.*datasource=writer err=".*refused: role \S+ is a superuser`),
		regexp.MustCompile(`level=WARN msg="datasource unreachable at start.*datasource=later`),
		regexp.MustCompile(`level=WARN msg="datasource allows a privileged role.*datasource=trusted`),
	} {
		waitFor(t, "log "+want.String(), logs, func() (bool, error) { return want.MatchString(logs.String()), nil })
	}
	if strings.Contains(logs.String(), "datasource=good") {
		t.Errorf("the read-only datasource is logged:\n%s", logs)
	}

	st, err := store.Open(t.Context(), "sqlite", filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	latest := func(id string) checks.Result {
		run, err := st.LatestResult(t.Context(), id)
		if err != nil {
			return checks.Result{}
		}
		return run.Result
	}
	for id, want := range map[string]func(checks.Result) bool{
		"on-good":    func(r checks.Result) bool { return r.Status == checks.Pass },
		"on-trusted": func(r checks.Result) bool { return r.Status == checks.Pass },
		"on-writer": func(r checks.Result) bool {
			return r.Status == checks.Error && strings.Contains(r.Error, "datasource writer: refused: role")
		},
		"on-later": func(r checks.Result) bool {
			return r.Status == checks.Error && strings.Contains(r.Error, "datasource later: connect: ")
		},
	} {
		waitFor(t, id+"'s result", logs, func() (bool, error) { return want(latest(id)), nil })
	}

	// The database comes up: the next runs inspect its role and pass.
	proxy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on the datasource's port again: %v", err)
	}
	defer proxy.Close()
	go forward(proxy, upstream)
	waitFor(t, "on-later to pass once its database is up", logs, func() (bool, error) { return latest("on-later").Status == checks.Pass, nil })
}

// forward copies every connection ln accepts to and from upstream.
func forward(ln net.Listener, upstream string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				return
			}
			defer u.Close()
			go io.Copy(u, c) //nolint:errcheck // ends with the connection
			io.Copy(c, u)    //nolint:errcheck // ends with the connection
		}()
	}
}
