// Command seedcmd writes the sandbox's example policy database to a SQLite
// file, for `make demo` and for trying vigil against realistic data.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"

	"github.com/vigilhq/vigil/internal/demo"
	_ "modernc.org/sqlite"
)

func main() {
	out := flag.String("o", "policies.db", "SQLite file to create (replaced if it exists)")
	n := flag.Int("policies", 3000, "number of policies")
	flag.Parse()
	if err := run(*out, *n); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(path string, n int) error {
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
	if err := demo.Seed(context.Background(), db, demo.Options{Policies: n}); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d policies)\n", path, n)
	return nil
}
