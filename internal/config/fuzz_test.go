package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilhq/vigil/internal/config"
)

// FuzzLoad feeds arbitrary files to Load: it must never panic, and it
// returns either a config whose checks passed validation or a non-empty
// *Problems.
func FuzzLoad(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("checks: [{<<: [*x]}]"))
	f.Add([]byte("datasources: {}\nchecks: [{id: a, kind: fake, tables: [{<<: {name: x}}]}]"))
	dir := f.TempDir()
	kinds := fakeKinds()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "vigil.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path, kinds)
		if err != nil {
			var ps *config.Problems
			if !errors.As(err, &ps) || len(*ps) == 0 {
				t.Fatalf("error is not a non-empty *Problems: %T %v", err, err)
			}
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		ids := map[string]bool{}
		for _, c := range cfg.Checks {
			if ids[c.ID] || c.Spec == nil || c.FailAfter < 1 || c.ResolveAfter < 1 || c.Timeout <= 0 {
				t.Fatalf("invalid check accepted: %+v", c)
			}
			ids[c.ID] = true
		}
	})
}
