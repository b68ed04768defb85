package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// signalsConfig is a valid config with one sql check and its runbook;
// extra is added under the check, sinks under sinks:.
func signalsConfig(t *testing.T, sinks, extra string) (dir, cfg string) {
	t.Helper()
	cfg = `server: {listen: "127.0.0.1:0"}
datasources:
  db: {driver: sqlite, dsn: p.db}
sinks:
` + sinks + `
checks:
  - id: billing
    kind: sql
    datasource: db
    runbook: billing
    query: SELECT 1 WHERE 1 = 0
` + extra
	dir = t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": cfg, "runbooks/billing.md": fullRunbook("billing")})
	return dir, cfg
}

// TestMalformedSentryDSNIsRejectedWithoutItsKey: a DSN sentry-go cannot
// parse (here a port that is not a number) was accepted by validate, and
// serve then logged it, key included. Now validate and serve report it at
// its line and never print the key (a secret: DESIGN's security section).
func TestMalformedSentryDSNIsRejectedWithoutItsKey(t *testing.T) {
	const key = "abc123s3cr3tkey"
	dir, cfg := signalsConfig(t, "  sentry: {dsn: \"${SENTRY_DSN}\"}  # dsn", "")
	env := []string{"SENTRY_DSN=https://" + key + "@o1.ingest.sentry.io:bad/42"}
	want := fmt.Sprintf("vigil.yaml:%d: sinks.sentry.dsn: not a URL", lineOf(t, cfg, "# dsn"))
	for _, cmd := range [][]string{{"validate"}, {"serve"}, {"run", "--once"}} {
		stdout, stderr, code := vigil(t, env, append(cmd, "-c", filepath.Join(dir, "vigil.yaml"))...)
		if code != exitBroken {
			t.Errorf("%v: exit %d, want %d", cmd, code, exitBroken)
		}
		if strings.Contains(stdout+stderr, key) {
			t.Errorf("%v prints the DSN's key:\n%s%s", cmd, stdout, stderr)
		}
		if !strings.Contains(stderr, want) {
			t.Errorf("%v: output lacks %q:\n%s%s", cmd, want, stdout, stderr)
		}
	}
}

// TestValidateWarnsAboutRewrittenDatadogTags: Datadog's tag rules
// (https://docs.datadoghq.com/getting_started/tagging/#define-tags) make
// vigil rewrite an owner "Billing Team, EU|west"; validate says so at the
// owner's line, with the tag that will be sent, and still exits 0.
func TestValidateWarnsAboutRewrittenDatadogTags(t *testing.T) {
	dir, cfg := signalsConfig(t, "  datadog:\n    tags: [env:prod, \"Env:Prod EU\"]  # tags",
		"    owner: \"Billing Team, EU|west\"  # owner\n    tags: [\"team:Données Clients\"]  # team\n")
	stdout, stderr, code := vigil(t, nil, "validate", "-c", filepath.Join(dir, "vigil.yaml"))
	if code != exitOK {
		t.Fatalf("exit %d, want 0 (warnings are not problems):\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		fmt.Sprintf(`vigil.yaml:%d: warning: check "billing": owner "Billing Team, EU|west" is sent to Datadog as tag "owner:billing_team__eu_west"`, lineOf(t, cfg, "# owner")),
		fmt.Sprintf(`vigil.yaml:%d: warning: check "billing": tag "team:Données Clients" is sent to Datadog as "team:données_clients"`, lineOf(t, cfg, "# team")),
		fmt.Sprintf(`vigil.yaml:%d: warning: sinks.datadog.tags: "Env:Prod EU" is sent to Datadog as "env:prod_eu"`, lineOf(t, cfg, "# tags")),
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("validate output lacks\n%s\ngot:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, `"env:prod"`) {
		t.Errorf("a valid tag is warned about:\n%s", stderr)
	}
}
