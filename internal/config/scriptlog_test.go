package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/scriptlog"
)

func TestScriptlogSection(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	wantKey, err := scriptlog.NewKey(key)
	if err != nil {
		t.Fatal(err)
	}
	const checksYAML = "datasources: {}\nchecks:\n  - {id: api, kind: fake_http, url: 'http://127.0.0.1:1/'}\n"
	tests := []struct {
		name    string
		section string
		files   map[string][]byte
		wantKey scriptlog.Key
		anchor  string // relative to the config's folder
		problem string
	}{
		{name: "absent: unkeyed", section: ""},
		{name: "key and anchor", section: "scriptlog: {key_file: keys/log.key, anchor_file: heads.log}\n",
			files: map[string][]byte{"keys/log.key": key}, wantKey: wantKey, anchor: "heads.log"},
		{name: "missing key file", section: "scriptlog:\n  key_file: nope.key\n",
			problem: `vigil.yaml:2: scriptlog: key_file: cannot read "nope.key": open `},
		{name: "short key", section: "scriptlog:\n  key_file: short.key\n", files: map[string][]byte{"short.key": []byte("s3cret\n")},
			problem: `vigil.yaml:2: scriptlog: key_file: "short.key" holds 7 bytes; a key needs at least 32 random bytes (create one with: head -c 32 /dev/urandom > vigil-scriptlog.key`},
		{name: "unknown field", section: "scriptlog:\n  key: abc\n", problem: `vigil.yaml:2: unknown field "key" in scriptlog`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "vigil.yaml")
			if err := os.WriteFile(path, []byte(tt.section+checksYAML), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path, fakeKinds())
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tt.problem)) {
					t.Fatalf("err = %v, want %q", err, tt.problem)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the problem echoes the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Scriptlog.Key.ID() != tt.wantKey.ID() {
				t.Errorf("key = %v, want %v", cfg.Scriptlog.Key, tt.wantKey)
			}
			if tt.anchor != "" && cfg.Scriptlog.AnchorFile != filepath.Join(dir, tt.anchor) {
				t.Errorf("anchor file = %q", cfg.Scriptlog.AnchorFile)
			}
			if !tt.wantKey.IsZero() && !containsAll(cfg.SecretValues(), string(key)) {
				t.Error("the key is not among the config's secret values")
			}
		})
	}
}

func containsAll(have []string, want ...string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}
