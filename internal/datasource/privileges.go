package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrPrivileged is wrapped by the error of a datasource whose role may do
// more than read: vigil refuses to run checks on it.
var ErrPrivileged = errors.New("refused")

// privilegedHelp closes a refusal: what vigil wants and the way out.
const privilegedHelp = "vigil runs checks only as a role that can read and nothing else " +
	`(README, "Read-only datasources", gives the SQL to create one), ` +
	"or on a datasource set to allow_privileged: true"

// roleVerdict is the last inspection of a datasource's role.
type roleVerdict struct {
	mu  sync.Mutex // held while inspecting, so concurrent runs inspect once
	at  time.Time  // zero: not inspected (or forgotten after a connection error)
	err error      // nil, or wraps ErrPrivileged
}

// Inspect connects to the datasource and inspects what its role may do.
// It returns nil when the role can only read, an error wrapping
// ErrPrivileged that names each privilege found and the statement that
// removes it, or the error that kept it from connecting. Without
// AllowPrivileged the verdict holds for the runs of the next InspectEvery.
// With AllowPrivileged it only connects. SQLite has no roles: its file is
// opened read-only and query_only, so Inspect only opens it.
//
// What counts as more than reading:
//   - PostgreSQL: a superuser, CREATEROLE or CREATEDB; membership in
//     pg_write_server_files, pg_read_server_files, pg_execute_server_program,
//     pg_signal_backend, pg_write_all_data or pg_checkpoint; INSERT,
//     UPDATE, DELETE, TRUNCATE or TRIGGER on a table, view or sequence of
//     the database (granted to the role, a role it belongs to, or PUBLIC),
//     INSERT or UPDATE on a column; owning a table, schema or database;
//     CREATE on a schema or on any database.
//   - MariaDB/MySQL: any privilege other than SELECT, SHOW VIEW,
//     SHOW DATABASES and USAGE, at any level (global, database, table,
//     column, routine, proxy), directly or through a role; WITH GRANT
//     OPTION.
func (s *SQL) Inspect(ctx context.Context) error {
	if s.allowPrivileged || s.driver == SQLite {
		if err := s.db.PingContext(ctx); err != nil {
			return fmt.Errorf("datasource %s: connect: %w", s.name, Redact(err))
		}
		return nil
	}
	s.role.mu.Lock()
	defer s.role.mu.Unlock()
	if err := s.inspectLocked(ctx); err != nil {
		return fmt.Errorf("datasource %s: %w", s.name, Redact(err))
	}
	return nil
}

// vet returns the standing verdict on the role, inspecting it when there
// is none or it is older than inspectEvery.
func (s *SQL) vet(ctx context.Context) error {
	if s.allowPrivileged || s.driver == SQLite {
		return nil
	}
	s.role.mu.Lock()
	defer s.role.mu.Unlock()
	if !s.role.at.IsZero() && time.Since(s.role.at) < s.inspectEvery {
		return s.role.err
	}
	return s.inspectLocked(ctx)
}

// forgetRole drops the verdict, so that the next run inspects the role
// again (after a reconnect the server or the grants may have changed).
func (s *SQL) forgetRole() {
	s.role.mu.Lock()
	s.role.at = time.Time{}
	s.role.mu.Unlock()
}

// inspectLocked inspects the role on a session of its own; s.role.mu is
// held. A verdict is kept; an error that kept it from inspecting is not. A
// MariaDB session that switched roles to inspect them is closed afterwards.
func (s *SQL) inspectLocked(ctx context.Context) error {
	s.role.at = time.Time{}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	var problems []privilege
	switch s.driver {
	case Postgres:
		problems, err = postgresPrivileges(ctx, conn)
	case MySQL:
		var switched bool
		problems, switched, err = mysqlPrivileges(ctx, conn)
		if switched {
			conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // closes the session
		}
	}
	if err != nil {
		return fmt.Errorf("inspect the role's privileges: %w", err)
	}
	s.role.at, s.role.err = time.Now(), nil
	if len(problems) > 0 {
		s.role.err = fmt.Errorf("%w: %s; %s", ErrPrivileged, summarize(problems), privilegedHelp)
	}
	return s.role.err
}

// privilege is one thing the role may do beyond reading, and the statement
// (or step) that takes it away.
type privilege struct {
	what, fix string
	all       bool // every privilege on every object (MariaDB ALL PRIVILEGES ON *.*)
}

// summarize lists the first privileges found and how many there are.
func summarize(ps []privilege) string {
	const shown = 3
	parts := make([]string, 0, shown+1)
	for i, p := range ps {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-shown))
			break
		}
		parts = append(parts, p.what+" (fix: "+p.fix+")")
	}
	return strings.Join(parts, "; ")
}

// postgresPrivilegesSQL lists what the current role may do beyond reading
// in this database and cluster, most serious first, with a fix for each.
// A role counts with every role it is a member of (it can SET ROLE to
// them, even without INHERIT) and with PUBLIC. The owner's own entries in
// an ACL are left out: owning is listed by itself.
const postgresPrivilegesSQL = `
WITH me AS (
	SELECT oid, rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles
	WHERE pg_has_role(current_user, oid, 'MEMBER')
), grantees AS (
	SELECT oid FROM me UNION ALL SELECT 0
), problem(rank, what, fix) AS (
	SELECT CASE WHEN rolname = current_user THEN 0 ELSE 1 END,
		CASE WHEN rolname = current_user THEN format('role %I is a superuser', rolname)
		ELSE format('role %I can act as superuser %I', current_user, rolname) END,
		'connect as a read-only role instead'
	FROM me WHERE rolsuper
	UNION ALL
	SELECT 2, format('role %I has %s', rolname, a.attr),
		CASE WHEN rolname = current_user THEN format('ALTER ROLE %I NO%s', rolname, a.attr)
		ELSE format('REVOKE %I FROM %I', rolname, current_user) END
	FROM me, LATERAL (VALUES ('CREATEROLE', rolcreaterole), ('CREATEDB', rolcreatedb)) a(attr, has) WHERE a.has
	UNION ALL
	SELECT 3, format('role %I is a member of %s', current_user, rolname), format('REVOKE %I FROM %I', rolname, current_user)
	FROM me WHERE rolname IN ('pg_write_server_files', 'pg_read_server_files', 'pg_execute_server_program',
		'pg_signal_backend', 'pg_write_all_data', 'pg_checkpoint')
	UNION ALL
	SELECT 4, format('role %I owns %s %I.%I', current_user,
			CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END, n.nspname, c.relname),
		format('ALTER TABLE %I.%I OWNER TO a role vigil does not use', n.nspname, c.relname)
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relowner IN (SELECT oid FROM me) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
		AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
	UNION ALL
	SELECT 5, format('%s has %s on %I.%I', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE format('role %I', g.rolname) END,
			a.privilege_type, n.nspname, c.relname),
		format('REVOKE %s ON %I.%I FROM %s', a.privilege_type, n.nspname, c.relname,
			CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.rolname) END)
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	CROSS JOIN LATERAL aclexplode(COALESCE(c.relacl,
		acldefault(CASE c.relkind WHEN 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner))) a
	LEFT JOIN pg_roles g ON g.oid = a.grantee
	WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND a.grantee <> c.relowner AND a.grantee IN (SELECT oid FROM grantees)
		AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER')
		AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
	UNION ALL
	SELECT 6, format('%s has %s on column %I of %I.%I', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE format('role %I', g.rolname) END,
			a.privilege_type, att.attname, n.nspname, c.relname),
		format('REVOKE %s (%I) ON %I.%I FROM %s', a.privilege_type, att.attname, n.nspname, c.relname,
			CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.rolname) END)
	FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	CROSS JOIN LATERAL aclexplode(att.attacl) a
	LEFT JOIN pg_roles g ON g.oid = a.grantee
	WHERE att.attacl IS NOT NULL AND a.grantee IN (SELECT oid FROM grantees) AND a.privilege_type IN ('INSERT', 'UPDATE')
		AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
	UNION ALL
	SELECT 7, format('role %I owns schema %I', current_user, n.nspname), format('ALTER SCHEMA %I OWNER TO a role vigil does not use', n.nspname)
	FROM pg_namespace n WHERE n.nspowner IN (SELECT oid FROM me)
		AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
	UNION ALL
	SELECT 8, format('%s has CREATE on schema %I', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE format('role %I', g.rolname) END, n.nspname),
		format('REVOKE CREATE ON SCHEMA %I FROM %s', n.nspname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.rolname) END)
	FROM pg_namespace n CROSS JOIN LATERAL aclexplode(COALESCE(n.nspacl, acldefault('n'::"char", n.nspowner))) a
	LEFT JOIN pg_roles g ON g.oid = a.grantee
	WHERE a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner AND a.grantee IN (SELECT oid FROM grantees)
		AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
	UNION ALL
	SELECT 9, format('role %I owns database %I', current_user, d.datname), format('ALTER DATABASE %I OWNER TO a role vigil does not use', d.datname)
	FROM pg_database d WHERE d.datdba IN (SELECT oid FROM me)
	UNION ALL
	SELECT 10, format('%s has CREATE on database %I', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE format('role %I', g.rolname) END, d.datname),
		format('REVOKE CREATE ON DATABASE %I FROM %s', d.datname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.rolname) END)
	FROM pg_database d CROSS JOIN LATERAL aclexplode(COALESCE(d.datacl, acldefault('d'::"char", d.datdba))) a
	LEFT JOIN pg_roles g ON g.oid = a.grantee
	WHERE a.privilege_type = 'CREATE' AND a.grantee <> d.datdba AND a.grantee IN (SELECT oid FROM grantees)
)
SELECT rank, what, fix FROM problem ORDER BY rank, what`

// postgresPrivileges runs postgresPrivilegesSQL. A superuser can do
// anything, so it is the only privilege listed for one.
func postgresPrivileges(ctx context.Context, conn *sql.Conn) ([]privilege, error) {
	rows, err := conn.QueryContext(ctx, postgresPrivilegesSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []privilege
	for rows.Next() {
		var rank int
		var p privilege
		if err := rows.Scan(&rank, &p.what, &p.fix); err != nil {
			return nil, err
		}
		if rank <= 1 {
			return []privilege{p}, nil
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// readOnlyGrants are the MariaDB/MySQL privileges a read-only user may hold.
var readOnlyGrants = map[string]bool{"USAGE": true, "SELECT": true, "SHOW VIEW": true, "SHOW DATABASES": true}

// mysqlPrivileges reads SHOW GRANTS for the current user and, switching to
// each role granted to it (SET ROLE, which also enables the roles granted
// to that role, so SHOW GRANTS lists theirs too), for its roles. switched reports that the session's role
// changed: it must not be reused.
func mysqlPrivileges(ctx context.Context, conn *sql.Conn) (ps []privilege, switched bool, err error) {
	var current string
	if err := conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&current); err != nil {
		return nil, false, err
	}
	user := mysqlAccount(current)
	lines, err := showGrants(ctx, conn)
	if err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	ps, roles := judgeGrants(lines, user, "", seen)
	for _, role := range roles {
		switched = true
		if _, err := conn.ExecContext(ctx, "SET ROLE "+role); err != nil {
			return nil, true, fmt.Errorf("set role %s: %w", role, err)
		}
		lines, err := showGrants(ctx, conn)
		if err != nil {
			return nil, true, err
		}
		more, _ := judgeGrants(lines, user, role, seen)
		ps = append(ps, more...)
	}
	// All privileges on everything say it all.
	for _, p := range ps {
		if p.all {
			return []privilege{p}, switched, nil
		}
	}
	return ps, switched, nil
}

// showGrants returns the lines of SHOW GRANTS.
func showGrants(ctx context.Context, conn *sql.Conn) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	return lines, rows.Err()
}

// mysqlAccount quotes CURRENT_USER()'s user@host as 'user'@'host'.
func mysqlAccount(current string) string {
	at := strings.LastIndexByte(current, '@')
	if at < 0 {
		return "'" + strings.ReplaceAll(current, "'", "''") + "'"
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return q(current[:at]) + "@" + q(current[at+1:])
}

// judgeGrants lists the privileges beyond reading in SHOW GRANTS lines, and
// the roles granted to the user (directly, when via is empty). via is the
// role enabled while the lines were read: a privilege of a role is fixed
// by revoking that role from the user. seen skips a line already judged.
func judgeGrants(lines []string, user, via string, seen map[string]bool) (ps []privilege, roles []string) {
	for _, line := range lines {
		if seen[line] {
			continue
		}
		seen[line] = true
		if strings.HasPrefix(line, "SET DEFAULT ROLE ") {
			continue // says which role a login enables; its grants are listed
		}
		g, ok := parseGrant(line)
		if !ok {
			ps = append(ps, privilege{what: "SHOW GRANTS line vigil cannot read: " + line, fix: "connect as a read-only user instead"})
			continue
		}
		holder := "user " + user
		if !sameAccount(g.to, user) {
			holder = "user " + user + " through role " + g.to
		}
		revoke := func(what string) string {
			if via != "" && !sameAccount(g.to, user) {
				return "REVOKE " + via + " FROM " + user
			}
			return "REVOKE " + what + " FROM " + g.to
		}
		if g.role != "" {
			if via == "" && sameAccount(g.to, user) {
				roles = append(roles, g.role)
			}
			continue
		}
		for _, p := range g.privileges {
			if readOnlyGrants[p] {
				continue
			}
			pv := privilege{what: holder + " has " + p + " on " + g.on, fix: revoke(p + " ON " + g.on)}
			if (p == "ALL PRIVILEGES" || p == "ALL") && g.on == "*.*" {
				pv.fix, pv.all = "connect as a read-only user instead", true
			}
			ps = append(ps, pv)
		}
		if g.grantOption {
			ps = append(ps, privilege{what: holder + " may grant its privileges on " + g.on + " (WITH GRANT OPTION)", fix: revoke("GRANT OPTION ON " + g.on)})
		}
	}
	return ps, roles
}

// sameAccount compares a SHOW GRANTS grantee (`u`@`h`) with 'u'@'h'.
func sameAccount(grantee, user string) bool {
	norm := func(s string) string { return strings.NewReplacer("`", "", "'", "").Replace(s) }
	return norm(grantee) == norm(user)
}

// grant is one line of SHOW GRANTS: privileges ON an object, or a role,
// TO a grantee.
type grant struct {
	privileges  []string // upper case, without column lists
	on          string
	role        string
	to          string
	grantOption bool
}

// parseGrant reads "GRANT privs ON object TO grantee [...] [WITH GRANT
// OPTION]" or "GRANT role TO grantee [WITH ADMIN OPTION]". Quoted names
// (`...`, '...') and column lists may hold any text.
func parseGrant(line string) (grant, bool) {
	words := grantWords(line)
	if len(words) < 3 || !strings.EqualFold(words[0], "GRANT") {
		return grant{}, false
	}
	on, to := -1, -1
	for i, w := range words {
		switch {
		case on < 0 && to < 0 && strings.EqualFold(w, "ON"):
			on = i
		case to < 0 && strings.EqualFold(w, "TO"):
			to = i
		}
	}
	if to < 0 || to+1 >= len(words) {
		return grant{}, false
	}
	g := grant{to: words[to+1]}
	tail := strings.ToUpper(strings.Join(words[to+2:], " "))
	g.grantOption = strings.Contains(tail, "WITH GRANT OPTION")
	if on < 0 {
		g.role = strings.Join(words[1:to], " ")
		return g, true
	}
	g.on = strings.Join(words[on+1:to], " ")
	for _, p := range splitPrivileges(strings.Join(words[1:on], " ")) {
		if i := strings.IndexByte(p, '('); i >= 0 {
			p = p[:i]
		}
		g.privileges = append(g.privileges, strings.ToUpper(strings.TrimSpace(p)))
	}
	return g, len(g.privileges) > 0
}

// grantWords splits a line on spaces outside quotes and parentheses.
func grantWords(line string) []string {
	var words []string
	for _, w := range splitTop(line, ' ') {
		if w != "" {
			words = append(words, w)
		}
	}
	return words
}

// splitPrivileges splits "SELECT, UPDATE (`a`, `b`)" on its top-level commas.
func splitPrivileges(s string) []string { return splitTop(s, ',') }

// splitTop splits s on sep where sep is outside quotes (`...`, '...',
// "...") and parentheses.
func splitTop(s string, sep rune) []string {
	var out []string
	var quote rune
	depth, start := 0, 0
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '`' || r == '\'' || r == '"':
			quote = r
		case r == '(':
			depth++
		case r == ')':
			depth--
		case r == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + len(string(sep))
		}
	}
	return append(out, s[start:])
}
