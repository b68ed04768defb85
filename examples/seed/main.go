// Command seed loads an example's seed.sql into a SQLite file beside it, so
// that every example runs with nothing installed but Go:
//
//	go run ./examples/seed examples/sql
//
// writes examples/sql/data.db (replacing it) from examples/sql/seed.sql.
// The SQL is portable: `psql "$DSN" -f seed.sql` or `mariadb db < seed.sql`
// loads the same tables into PostgreSQL or MariaDB.
package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite"
)

func main() {
	if len(os.Args) != 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintln(os.Stderr, "usage: go run ./examples/seed DIR   (loads DIR/seed.sql into DIR/data.db)")
		os.Exit(2)
	}
	if err := seed(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func seed(dir string) error {
	script, err := os.ReadFile(filepath.Join(dir, "seed.sql"))
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "data.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, stmt := range Statements(string(script)) {
		if _, err := db.Exec(stmt); err != nil {
			return fmt.Errorf("%s: %w", firstLine(stmt), err)
		}
	}
	fmt.Printf("wrote %s\n", path)
	return nil
}

// Statements splits a seed script at the semicolons that end a line,
// dropping -- comments: the seed scripts keep one statement per ";\n".
func Statements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			if s := strings.TrimSpace(cur.String()); s != ";" {
				out = append(out, strings.TrimSuffix(s, ";"))
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
