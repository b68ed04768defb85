package datasource_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/testdb"
)

// privilegeCase grants the test's read-only role one privilege that lets
// it write or act on the server; Inspect must refuse it, naming want, and
// the fix it prints (or undo, when the fix is a step rather than SQL) must
// make the role acceptable again.
type privilegeCase struct {
	name  string
	grant []string // run as the administrator; {r} is the role, {s} the schema or database
	want  string   // in the refusal
	undo  []string // when the printed fix is not a statement to run
	roles []string // extra roles the grant creates (cluster-wide), dropped after
}

// fixes pulls each "(fix: ...)" out of a refusal.
var fixes = regexp.MustCompile(`\(fix: ((?:[^()]|\([^()]*\))*)\)`)

func TestInspectRefusesPrivilegedRoles(t *testing.T) {
	// PostgreSQL's privileges (GRANT, "Predefined Roles", role attributes):
	// any of these lets a query write or act beyond its read-only
	// transaction (COPY TO/FROM PROGRAM, pg_terminate_backend, dblink to
	// itself, DDL by the owner, writes through a member role or PUBLIC).
	pg := []privilegeCase{
		{name: "superuser", grant: []string{"ALTER ROLE {r} SUPERUSER"}, want: "role {r} is a superuser", undo: []string{"ALTER ROLE {r} NOSUPERUSER"}},
		{name: "CREATEROLE", grant: []string{"ALTER ROLE {r} CREATEROLE"}, want: "role {r} has CREATEROLE"},
		{name: "CREATEDB", grant: []string{"ALTER ROLE {r} CREATEDB"}, want: "role {r} has CREATEDB"},
		{name: "pg_signal_backend", grant: []string{"GRANT pg_signal_backend TO {r}"}, want: "member of pg_signal_backend"},
		{name: "pg_write_server_files", grant: []string{"GRANT pg_write_server_files TO {r}"}, want: "member of pg_write_server_files"},
		{name: "pg_read_server_files", grant: []string{"GRANT pg_read_server_files TO {r}"}, want: "member of pg_read_server_files"},
		{name: "pg_execute_server_program", grant: []string{"GRANT pg_execute_server_program TO {r}"}, want: "member of pg_execute_server_program"},
		{name: "INSERT", grant: []string{"GRANT INSERT ON t TO {r}"}, want: "role {r} has INSERT on {s}.t"},
		{name: "UPDATE", grant: []string{"GRANT UPDATE ON t TO {r}"}, want: "role {r} has UPDATE on {s}.t"},
		{name: "DELETE", grant: []string{"GRANT DELETE ON t TO {r}"}, want: "role {r} has DELETE on {s}.t"},
		{name: "TRUNCATE", grant: []string{"GRANT TRUNCATE ON t TO {r}"}, want: "role {r} has TRUNCATE on {s}.t"},
		{name: "TRIGGER", grant: []string{"GRANT TRIGGER ON t TO {r}"}, want: "role {r} has TRIGGER on {s}.t"},
		{name: "UPDATE on a column", grant: []string{"GRANT UPDATE (b) ON t TO {r}"}, want: "role {r} has UPDATE on column b of {s}.t"},
		{name: "INSERT on a view", grant: []string{"CREATE VIEW v AS SELECT * FROM t", "GRANT INSERT ON v TO {r}"}, want: "role {r} has INSERT on {s}.v"},
		{name: "UPDATE on a sequence", grant: []string{"CREATE SEQUENCE q", "GRANT UPDATE ON SEQUENCE q TO {r}"}, want: "role {r} has UPDATE on {s}.q"},
		{name: "DELETE granted to PUBLIC", grant: []string{"GRANT DELETE ON t TO PUBLIC"}, want: "PUBLIC has DELETE on {s}.t"},
		{name: "DELETE through a member role", roles: []string{"{r}_w"}, grant: []string{"CREATE ROLE {r}_w", "GRANT DELETE ON t TO {r}_w", "GRANT {r}_w TO {r}"}, want: "role {r}_w has DELETE on {s}.t"},
		{name: "DELETE through a role it may only SET ROLE to", roles: []string{"{r}_w"}, grant: []string{"CREATE ROLE {r}_w", "GRANT DELETE ON t TO {r}_w", "GRANT {r}_w TO {r}", "ALTER ROLE {r} NOINHERIT"}, want: "role {r}_w has DELETE on {s}.t"},
		{name: "owns a table", grant: []string{"ALTER TABLE t OWNER TO {r}"}, want: "role {r} owns table {s}.t", undo: []string{"ALTER TABLE t OWNER TO CURRENT_USER"}},
		{name: "CREATE on the schema", grant: []string{"GRANT CREATE ON SCHEMA {s} TO {r}"}, want: "role {r} has CREATE on schema {s}"},
		{name: "owns the schema", grant: []string{"ALTER SCHEMA {s} OWNER TO {r}"}, want: "role {r} owns schema {s}", undo: []string{"ALTER SCHEMA {s} OWNER TO CURRENT_USER"}},
		{name: "CREATE on the database", grant: []string{"GRANT CREATE ON DATABASE {d} TO {r}"}, want: "role {r} has CREATE on database {d}"},
	}
	// MariaDB's privileges (GRANT, "Privileges"): only SELECT, SHOW VIEW,
	// SHOW DATABASES and USAGE let a user do nothing but read.
	maria := []privilegeCase{
		{name: "SUPER", grant: []string{"GRANT SUPER ON *.* TO {u}"}, want: "has SUPER on *.*"},
		{name: "FILE", grant: []string{"GRANT FILE ON *.* TO {u}"}, want: "has FILE on *.*"},
		{name: "PROCESS", grant: []string{"GRANT PROCESS ON *.* TO {u}"}, want: "has PROCESS on *.*"},
		{name: "SHUTDOWN", grant: []string{"GRANT SHUTDOWN ON *.* TO {u}"}, want: "has SHUTDOWN on *.*"},
		{name: "INSERT on every database", grant: []string{"GRANT INSERT ON *.* TO {u}"}, want: "has INSERT on *.*"},
		{name: "INSERT", grant: []string{"GRANT INSERT ON {s}.* TO {u}"}, want: "has INSERT on `{s}`.*"},
		{name: "UPDATE", grant: []string{"GRANT UPDATE ON {s}.* TO {u}"}, want: "has UPDATE on `{s}`.*"},
		{name: "DELETE on a table", grant: []string{"GRANT DELETE ON {s}.t TO {u}"}, want: "has DELETE on `{s}`.`t`"},
		{name: "UPDATE on a column", grant: []string{"GRANT UPDATE (b) ON {s}.t TO {u}"}, want: "has UPDATE on `{s}`.`t`"},
		{name: "CREATE", grant: []string{"GRANT CREATE ON {s}.* TO {u}"}, want: "has CREATE on `{s}`.*"},
		{name: "DROP", grant: []string{"GRANT DROP ON {s}.* TO {u}"}, want: "has DROP on `{s}`.*"},
		{name: "ALTER", grant: []string{"GRANT ALTER ON {s}.* TO {u}"}, want: "has ALTER on `{s}`.*"},
		{name: "EXECUTE", grant: []string{"GRANT EXECUTE ON {s}.* TO {u}"}, want: "has EXECUTE on `{s}`.*"},
		{name: "GRANT OPTION", grant: []string{"GRANT SELECT ON {s}.* TO {u} WITH GRANT OPTION"}, want: "may grant its privileges on `{s}`.*"},
		{name: "DELETE through a role", roles: []string{"{r}_w"}, grant: []string{"CREATE ROLE {r}_w", "GRANT DELETE ON {s}.* TO {r}_w", "GRANT {r}_w TO {u}"}, want: "through role `{r}_w` has DELETE on `{s}`.*"},
		{name: "DELETE through a role's role", roles: []string{"{r}_w", "{r}_x"}, grant: []string{"CREATE ROLE {r}_w", "CREATE ROLE {r}_x", "GRANT DELETE ON {s}.* TO {r}_x", "GRANT {r}_x TO {r}_w", "GRANT {r}_w TO {u}"}, want: "through role `{r}_x` has DELETE on `{s}`.*"},
		{name: "DELETE through its default role", roles: []string{"{r}_w"}, grant: []string{"CREATE ROLE {r}_w", "GRANT DELETE ON {s}.* TO {r}_w", "GRANT {r}_w TO {u}", "SET DEFAULT ROLE {r}_w FOR {u}"}, want: "has DELETE on `{s}`.*"},
	}
	for _, driver := range []string{"postgres", "mysql"} {
		cases := pg
		if driver == "mysql" {
			cases = maria
		}
		for _, tc := range cases {
			t.Run(driver+"/"+tc.name, func(t *testing.T) {
				db := testdb.Open(t, driver)
				db.Exec(t, "CREATE TABLE t (a INT, b INT)")
				database := "test"
				if driver == "mysql" {
					database = db.Role
				}
				expand := strings.NewReplacer("{r}", db.Role, "{u}", "'"+db.Role+"'@'%'", "{s}", db.Role, "{d}", database).Replace
				for _, r := range tc.roles {
					role := expand(r)
					t.Cleanup(func() {
						if driver == "postgres" {
							db.Exec(t, "DROP OWNED BY "+role) // its grants; the schema is dropped after
						}
						db.Exec(t, "DROP ROLE "+role)
					})
				}
				src, err := datasource.OpenSQL("warehouse", driver, db.DSN)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				ctx := context.Background()
				if err := src.Inspect(ctx); err != nil {
					t.Fatalf("before the grant: %v, want the read-only role accepted", err)
				}
				for _, g := range tc.grant {
					db.Exec(t, expand(g))
				}
				err = src.Inspect(ctx)
				if !errors.Is(err, datasource.ErrPrivileged) {
					t.Fatalf("Inspect = %v, want it refused (ErrPrivileged)", err)
				}
				msg := err.Error()
				if want := expand(tc.want); !strings.Contains(msg, want) {
					t.Errorf("refusal %q does not say %q", msg, want)
				}
				if !strings.HasPrefix(msg, "datasource warehouse: refused: ") || !strings.Contains(msg, "allow_privileged: true") {
					t.Errorf("refusal %q does not name the datasource and the way out", msg)
				}
				// A check on it ends in error with that message, before
				// any of its queries runs.
				_, qerr := query(ctx, src, 5*time.Second, "SELECT 1")
				if qerr == nil || !strings.Contains(qerr.Error(), expand(tc.want)) {
					t.Errorf("a query after the refusal: %v, want the refusal", qerr)
				}
				undo := tc.undo
				if undo == nil {
					for _, m := range fixes.FindAllStringSubmatch(msg, -1) {
						undo = append(undo, m[1])
					}
				}
				if len(undo) == 0 {
					t.Fatalf("refusal %q gives no fix", msg)
				}
				for _, u := range undo {
					db.Exec(t, expand(u))
				}
				if err := src.Inspect(ctx); err != nil {
					t.Errorf("after the fix %q: %v, want the role accepted", undo, err)
				}
			})
		}
	}
}

func TestInspectAgainWhenGrantsChange(t *testing.T) {
	for _, driver := range []string{"postgres", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			db.Exec(t, "CREATE TABLE t (a INT)")
			src, err := datasource.OpenSQL("warehouse", driver, db.DSN, datasource.InspectEvery(0))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			ctx := context.Background()
			if _, err := query(ctx, src, 5*time.Second, "SELECT a FROM t"); err != nil {
				t.Fatalf("read-only role: %v", err)
			}
			grantee := db.Role
			if driver == "mysql" {
				grantee = "'" + db.Role + "'@'%'"
			}
			db.Exec(t, "GRANT DELETE ON t TO "+grantee)
			if _, err := query(ctx, src, 5*time.Second, "SELECT a FROM t"); !errors.Is(err, datasource.ErrPrivileged) {
				t.Errorf("after GRANT DELETE: %v, want the run refused", err)
			}
			db.Exec(t, "REVOKE DELETE ON t FROM "+grantee)
			if _, err := query(ctx, src, 5*time.Second, "SELECT a FROM t"); err != nil {
				t.Errorf("after REVOKE DELETE: %v, want the run accepted", err)
			}
		})
	}
}

func TestAllowPrivilegedRunsAsSuperuser(t *testing.T) {
	for _, driver := range []string{"postgres", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Open(t, driver)
			db.Exec(t, "CREATE TABLE t (a INT)", "INSERT INTO t VALUES (1)")
			refused, err := datasource.OpenSQL("warehouse", driver, db.AdminDSN)
			if err != nil {
				t.Fatal(err)
			}
			defer refused.Close()
			if _, err := query(context.Background(), refused, 5*time.Second, "SELECT a FROM t"); !errors.Is(err, datasource.ErrPrivileged) {
				t.Errorf("administrator without allow_privileged: %v, want refused", err)
			}
			allowed, err := datasource.OpenSQL("warehouse", driver, db.AdminDSN, datasource.AllowPrivileged(true))
			if err != nil {
				t.Fatal(err)
			}
			defer allowed.Close()
			if err := allowed.Inspect(context.Background()); err != nil {
				t.Errorf("Inspect with allow_privileged: %v", err)
			}
			rows, err := query(context.Background(), allowed, 5*time.Second, "SELECT a FROM t")
			if err != nil || len(rows) != 1 {
				t.Errorf("administrator with allow_privileged: rows %v, error %v; want [[1]]", rows, err)
			}
			// Still read-only: the transaction refuses the write.
			if _, err := query(context.Background(), allowed, 5*time.Second, "DELETE FROM t"); err == nil {
				t.Errorf("DELETE with allow_privileged: no error")
			}
			if n := count(t, db, "t"); n != 1 {
				t.Errorf("t has %d rows, want 1", n)
			}
		})
	}
}

// TestLeavingTheTransactionEndsTheRun holds every driver to the rule that a
// query which ends vigil's transaction (COMMIT, ROLLBACK) or makes the
// session writable is the run's last, and that what it left in its
// session never reaches a later run.
func TestLeavingTheTransactionEndsTheRun(t *testing.T) {
	tests := []struct {
		driver  string
		queries []string
		want    string
		// after is read by a later run on the same datasource, and must
		// be "on"/"1" (the session default a run relies on).
		after string
	}{
		{driver: "postgres", queries: []string{"SELECT set_config('default_transaction_read_only', 'off', false) AS x", "COMMIT", "SELECT 1"},
			want: "query 2 left the read-only transaction: COMMIT", after: "SELECT current_setting('default_transaction_read_only')"},
		{driver: "postgres", queries: []string{"ROLLBACK", "SELECT 1"}, want: "query 1 left the read-only transaction: ROLLBACK"},
		{driver: "postgres", queries: []string{"SELECT 1", "COMMIT AND CHAIN", "SELECT 1"}, want: "query 2 left the read-only transaction: COMMIT AND CHAIN"},
		{driver: "mysql", queries: []string{"SET SESSION TRANSACTION READ WRITE", "SELECT 1"},
			want: "query 1 left the read-only transaction", after: "SELECT @@session.tx_read_only"},
		{driver: "mysql", queries: []string{"SELECT 1", "COMMIT", "SELECT 1"}, want: "query 2 left the read-only transaction: COMMIT"},
		{driver: "sqlite", queries: []string{"PRAGMA query_only = 0", "SELECT 1"},
			want: "query 1 left the read-only transaction: PRAGMA query_only = 0", after: "PRAGMA query_only"},
	}
	for _, tt := range tests {
		t.Run(tt.driver+"/"+strings.Join(tt.queries, "; "), func(t *testing.T) {
			_, src := open(t, tt.driver, "CREATE TABLE t (a INT)")
			var errs []error
			err := src.ReadOnly(context.Background(), 5*time.Second, func(ctx context.Context, tx *checks.Tx) error {
				// A careless kind that goes on after an error still runs
				// nothing more.
				for _, q := range tt.queries {
					errs = append(errs, checks.EachRow(ctx, tx, q, func([]string, []any) error { return nil }))
				}
				return errors.Join(errs...)
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if last := errs[len(errs)-1]; last == nil || !strings.Contains(last.Error(), "no further query runs") {
				t.Errorf("the query after the one that left: %v, want it not run", last)
			}
			if tt.after == "" {
				return
			}
			for range 3 { // more runs than the pool's idle sessions it might land on
				rows, err := query(context.Background(), src, 5*time.Second, tt.after)
				if err != nil {
					t.Fatal(err)
				}
				if v := rows[0][0]; v != "on" && v != "1" {
					t.Errorf("a later run reads %s = %s: the failed run's session was reused", tt.after, v)
				}
			}
		})
	}
}
