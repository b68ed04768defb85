package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
)

// TestSentryDSNIsParsedWithoutEchoingTheKey: a Sentry DSN has the form
// {PROTOCOL}://{PUBLIC_KEY}@{HOST}{PATH}/{PROJECT_ID}
// (https://develop.sentry.dev/sdk/overview/#parsing-the-dsn). One that
// sentry-go cannot parse is a config problem at the dsn's line, and the
// message never quotes the key (it is a secret: Sentry accepts events
// signed with it).
func TestSentryDSNIsParsedWithoutEchoingTheKey(t *testing.T) {
	const key = "abc123s3cr3tkey"
	tests := []struct {
		name, dsn, want string
	}{
		{name: "bad port", dsn: "https://" + key + "@o1.ingest.sentry.io:notaport/42", want: `sinks.sentry.dsn: not a URL: invalid port ":notaport" after host`},
		{name: "no scheme", dsn: key + "@o1.ingest.sentry.io/42", want: "sinks.sentry.dsn: scheme must be http or https"},
		{name: "ftp scheme", dsn: "ftp://" + key + "@o1.ingest.sentry.io/42", want: "sinks.sentry.dsn: scheme must be http or https"},
		{name: "no key", dsn: "https://o1.ingest.sentry.io/42", want: "sinks.sentry.dsn: no public key"},
		{name: "no project", dsn: "https://" + key + "@o1.ingest.sentry.io/", want: "sinks.sentry.dsn: no project id"},
		{name: "key in port", dsn: "https://" + key + "@o1.ingest.sentry.io:" + key + "/42", want: "sinks.sentry.dsn: not a URL"},
		{name: "space in key", dsn: "https://" + key + " x@o1.ingest.sentry.io/42", want: "sinks.sentry.dsn: not a URL: net/url: invalid userinfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vigil.yaml")
			yaml := "datasources: {}\nsinks:\n  sentry:\n    dsn: \"" + tt.dsn + "\"\nchecks: []\n"
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.Load(path, fakeKinds())
			if err == nil {
				t.Fatalf("DSN %q accepted", tt.dsn)
			}
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v is not Problems", err)
			}
			var got string
			for _, p := range ps {
				if strings.Contains(p.Msg, "sinks.sentry.dsn") {
					got = p.String()
				}
				if strings.Contains(p.String(), key) {
					t.Errorf("problem quotes the key: %s", p)
				}
			}
			if want := path + ":4: " + tt.want + " (want https://PUBLIC_KEY@HOST/PROJECT_ID)"; got != want {
				t.Errorf("problem\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestSlackGroupWait: sinks.slack.group_wait is a duration, 10s by
// default, 0 to send at once, never negative.
func TestSlackGroupWait(t *testing.T) {
	tests := []struct {
		name, value string
		want        time.Duration
		problem     string
	}{
		{name: "default", want: config.DefaultGroupWait},
		{name: "set", value: "30s", want: 30 * time.Second},
		{name: "off", value: "0s", want: 0},
		{name: "negative", value: "-1s", problem: ":4: sinks.slack: group_wait: must not be negative, got -1s"},
		{name: "not a duration", value: "soon", problem: `:4: sinks.slack: group_wait: invalid duration "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vigil.yaml")
			slack := "  slack:\n    webhook_url: https://hooks.slack.com/services/T/B/X\n"
			if tt.value != "" {
				slack += "    group_wait: " + tt.value + "\n"
			}
			yaml := "sinks:\n" + slack + "datasources:\n  db: {driver: sqlite, dsn: x.db}\nchecks:\n  - {id: c, kind: fake, datasource: db, query: SELECT 1}\n"
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path, fakeKinds())
			if tt.problem != "" {
				if err == nil || err.Error() != path+tt.problem {
					t.Errorf("error %v, want %s%s", err, path, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Sinks.Slack.GroupWait != tt.want {
				t.Errorf("GroupWait = %s, want %s", cfg.Sinks.Slack.GroupWait, tt.want)
			}
		})
	}
}
