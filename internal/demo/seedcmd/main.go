// Command seedcmd writes the sandbox's example policy database to a SQLite
// file, for `make demo` and for trying vigil against realistic data.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigilhq/vigil/internal/demo"
	_ "modernc.org/sqlite"
)

func main() {
	out := flag.String("o", "policies.db", "SQLite file to create (replaced if it exists)")
	n := flag.Int("policies", 3000, "number of policies")
	var scenarios []string
	flag.Func("scenario", "inject a scenario after seeding (repeatable): "+strings.Join(demo.ScenarioNames(), ", "), func(v string) error {
		if _, ok := demo.Scenarios[v]; !ok {
			return fmt.Errorf("unknown scenario %q", v)
		}
		scenarios = append(scenarios, v)
		return nil
	})
	flag.Parse()
	if err := run(*out, *n, scenarios); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(path string, n int, scenarios []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
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
	for _, sc := range scenarios {
		if err := demo.Inject(context.Background(), db, sc); err != nil {
			return err
		}
		fmt.Printf("injected %s: %s\n", sc, demo.Scenarios[sc].Description)
	}
	fmt.Printf("wrote %s (%d policies)\n", path, n)
	return nil
}
