package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/config"
)

// TestEnvInFlowMapping loads DESIGN.md's own spelling, an unquoted ${VAR}
// inside a flow mapping, where a bare "{" or "}" would otherwise end it.
func TestEnvInFlowMapping(t *testing.T) {
	t.Setenv("VIGIL_TEST_FLOW_DSN", "postgres://u:p@db:5432/x?sslmode=disable")
	tests := []struct {
		name     string
		body     string
		wantDSN  string
		problems []string // each must appear; none means the config loads
	}{
		{
			name:    "unquoted in a flow mapping",
			body:    "datasources:\n  policies: {driver: postgres, dsn: ${VIGIL_TEST_FLOW_DSN}}\nchecks: [{id: a, kind: fake_http, url: 'http://x'}]\n",
			wantDSN: "postgres://u:p@db:5432/x?sslmode=disable",
		},
		{
			name:    "reference in a comment is ignored",
			body:    "store: {driver: sqlite, dsn: vigil.db}   # or {driver: postgres, dsn: ${VIGIL_TEST_UNSET_X}}\ndatasources:\n  policies: {driver: postgres, dsn: ${VIGIL_TEST_FLOW_DSN}}\nchecks: [{id: a, kind: fake_http, url: 'http://x'}]\n",
			wantDSN: "postgres://u:p@db:5432/x?sslmode=disable",
		},
		{
			name:    "text around the reference",
			body:    "datasources:\n  policies: {driver: postgres, dsn: \"${VIGIL_TEST_FLOW_DSN}&x=1\"}\nchecks: [{id: a, kind: fake_http, url: 'http://x'}]\n",
			wantDSN: "postgres://u:p@db:5432/x?sslmode=disable&x=1",
		},
		{
			name:     "undefined in a flow mapping keeps its line",
			body:     "datasources:\n  a: {driver: postgres, dsn: ${VIGIL_TEST_FLOW_DSN}}\n  policies: {driver: postgres, dsn: ${VIGIL_TEST_UNSET_X}}\nchecks: [{id: a, kind: fake_http, url: 'http://x'}]\n",
			problems: []string{`vigil.yaml:3: undefined environment variable "VIGIL_TEST_UNSET_X"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vigil.yaml")
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path, fakeKinds())
			if len(tt.problems) > 0 {
				if err == nil {
					t.Fatalf("loaded, want problems %q", tt.problems)
				}
				for _, p := range tt.problems {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("problems lack %q:\n%v", p, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.Datasources["policies"].DSN; got != tt.wantDSN {
				t.Errorf("dsn = %q, want %q", got, tt.wantDSN)
			}
		})
	}
}
