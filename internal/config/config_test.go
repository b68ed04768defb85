package config_test

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/bad")

// fakeSpec stands in for a real kind's configuration: thresholds inline,
// a duration, a nested list and a file that Validate reads.
type fakeSpec struct {
	checks.Thresholds `yaml:",inline"`
	Query             string        `yaml:"query"`
	Window            time.Duration `yaml:"window"`
	Tables            []fakeTable   `yaml:"tables"`
	Rules             string        `yaml:"rules"`
}

type fakeTable struct {
	Name      string        `yaml:"name"`
	WarnAfter time.Duration `yaml:"warn_after"`
}

func (s *fakeSpec) Validate(env checks.SpecEnv) []checks.Problem {
	ps := s.Thresholds.Problems()
	if s.Query == "" {
		ps = append(ps, checks.Problem{Field: "query", Msg: "missing query"})
	}
	for i, t := range s.Tables {
		if t.WarnAfter <= 0 {
			ps = append(ps, checks.Problem{Field: fmt.Sprintf("tables[%d].warn_after", i), Msg: fmt.Sprintf("tables[%d]: warn_after must be positive", i)})
		}
	}
	if s.Rules != "" {
		path := filepath.Join(env.BaseDir, s.Rules)
		b, err := os.ReadFile(path)
		switch {
		case err != nil:
			ps = append(ps, checks.Problem{Field: "rules", Msg: "rules: cannot read " + s.Rules})
		case strings.Contains(string(b), "bad"):
			ps = append(ps, checks.Problem{File: path, Line: 2, Msg: "rules: bad rule"})
		}
	}
	return ps
}

func (s *fakeSpec) Build(checks.Deps) (checks.Check, error) { return nil, errors.New("fake kind") }

type fakeQueueSpec struct {
	Queues []string `yaml:"queues"`
}

func (s *fakeQueueSpec) Validate(checks.SpecEnv) []checks.Problem { return nil }

func (s *fakeQueueSpec) Build(checks.Deps) (checks.Check, error) { return nil, errors.New("fake kind") }

type fakeObjectsSpec struct {
	Prefixes []string `yaml:"prefixes"`
}

func (s *fakeObjectsSpec) Validate(checks.SpecEnv) []checks.Problem { return nil }

func (s *fakeObjectsSpec) Build(checks.Deps) (checks.Check, error) {
	return nil, errors.New("fake kind")
}

type fakeHTTPSpec struct {
	URL string `yaml:"url"`
}

func (s *fakeHTTPSpec) Validate(checks.SpecEnv) []checks.Problem { return nil }

func (s *fakeHTTPSpec) Build(checks.Deps) (checks.Check, error) { return nil, errors.New("fake kind") }

func fakeKinds() checks.Registry {
	return checks.NewRegistry(
		checks.Kind{Name: "fake", Needs: checks.NeedsSQL, NewSpec: func() checks.Spec { return &fakeSpec{} }},
		checks.Kind{Name: "fake_queue", Needs: checks.NeedsSQS, NewSpec: func() checks.Spec { return &fakeQueueSpec{} }},
		checks.Kind{Name: "fake_http", Needs: checks.NeedsNone, NewSpec: func() checks.Spec { return &fakeHTTPSpec{} }},
		checks.Kind{Name: "fake_objects", Needs: checks.NeedsS3, NewSpec: func() checks.Spec { return &fakeObjectsSpec{} }},
	)
}

func intp(n int) *int { return &n }

// load loads a config that must be valid.
func load(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path, fakeKinds())
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return cfg
}

func TestLoadFull(t *testing.T) {
	t.Setenv("VIGIL_TEST_STORE_DSN", "postgres://vigil@localhost/vigil")
	t.Setenv("VIGIL_TEST_HOST", "10.0.0.7")
	t.Setenv("VIGIL_TEST_SLACK", "https://hooks.slack.com/services/T/B/X")
	t.Setenv("VIGIL_TEST_FAIL_AFTER", "2")
	path := filepath.Join("testdata", "good", "full.yaml")
	dir := filepath.Join("testdata", "good")

	cfg := load(t, path)

	if cfg.Path != path || cfg.Dir != dir {
		t.Errorf("Path, Dir = %q, %q; want %q, %q", cfg.Path, cfg.Dir, path, dir)
	}
	wantServer := config.Server{Listen: "0.0.0.0:9090", BaseURL: "https://vigil.example.com", MaxConnections: 500,
		TrustedProxyList: []string{"10.0.0.0/8", "192.0.2.10", "2001:db8::/32"},
		TrustedProxies:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("2001:db8::/32")}}
	if want := wantServer; !reflect.DeepEqual(cfg.Server, want) {
		t.Errorf("Server = %+v, want %+v", cfg.Server, want)
	}
	if want := (config.Store{Driver: "postgres", DSN: "postgres://vigil@localhost/vigil"}); cfg.Store != want {
		t.Errorf("Store = %+v, want %+v", cfg.Store, want)
	}
	wantDS := map[string]config.Datasource{
		"policies":  {Name: "policies", Driver: "postgres", DSN: "postgres://reader:s3cret@db:5432/policies", DSNFile: "secrets/policies.dsn", Line: 7},
		"warehouse": {Name: "warehouse", Driver: "mysql", DSN: "user:pa$word@tcp(10.0.0.7:3306)/dw", AllowPrivileged: true, Line: 8},
		"local":     {Name: "local", Driver: "sqlite", DSN: filepath.Join(dir, "data", "local.db"), Line: 9},
		"queues":    {Name: "queues", Driver: "sqs", Region: "us-east-1", Endpoint: "http://10.0.0.7:9324", Line: 10},
	}
	if !reflect.DeepEqual(cfg.Datasources, wantDS) {
		t.Errorf("Datasources =\n%+v\nwant\n%+v", cfg.Datasources, wantDS)
	}
	wantSinks := config.Sinks{
		Datadog: config.Datadog{Addr: "127.0.0.1:8125", Namespace: "acme", Tags: []string{"env:prod", "team:core"}, TagLines: []int{12, 12}},
		Sentry:  config.Sentry{DSN: "https://key@sentry.example.com/1", DSNFile: "secrets/sentry.dsn", Environment: "prod"},
		Slack:   config.Slack{WebhookURL: "https://hooks.slack.com/services/T/B/X", GroupWait: config.DefaultGroupWait},
	}
	if !reflect.DeepEqual(cfg.Sinks, wantSinks) {
		t.Errorf("Sinks = %+v, want %+v", cfg.Sinks, wantSinks)
	}
	if want := filepath.Join(dir, "docs", "runbooks"); cfg.RunbooksDir != want {
		t.Errorf("RunbooksDir = %q, want %q", cfg.RunbooksDir, want)
	}
	if cfg.Retention.Raw != 72*time.Hour {
		t.Errorf("Retention.Raw = %s, want 72h", cfg.Retention.Raw)
	}

	wantChecks := []config.Check{
		{
			ID: "missing-endorsements", Kind: "fake", Datasource: "policies", Schedule: "@every 1m",
			Timeout: 90 * time.Second, Runbook: "missing-endorsements", Owner: "policy-team",
			Tags: []string{"team:policy", "tier:1"}, FailAfter: 2, ResolveAfter: 3, Line: 18, OwnerLine: 24, TagLines: []int{25, 25},
			Spec: &fakeSpec{
				Thresholds: checks.Thresholds{WarnAbove: intp(1), FailAbove: intp(5)},
				Query:      "SELECT id FROM policies WHERE cost > $1",
				Window:     2 * time.Second,
				Tables:     []fakeTable{{Name: "orders", WarnAfter: time.Hour}},
			},
		},
		{
			ID: "dlq", Kind: "fake_queue", Datasource: "queues", Schedule: "*/10 * * * *",
			Timeout: time.Minute, FailAfter: 1, ResolveAfter: 1, Line: 34,
			Spec: &fakeQueueSpec{Queues: []string{"orders-dlq"}},
		},
		{
			ID: "dlq-2", Kind: "fake_queue", Datasource: "queues", Schedule: "@hourly",
			Timeout: time.Minute, FailAfter: 1, ResolveAfter: 1, Line: 37,
			Spec: &fakeQueueSpec{Queues: []string{"payments-dlq"}},
		},
		{
			ID: "api-up", Kind: "fake_http", Schedule: "@every 5m",
			Timeout: time.Minute, FailAfter: 1, ResolveAfter: 1, Line: 41,
			Spec: &fakeHTTPSpec{URL: "https://api.example.com/health"},
		},
	}
	if len(cfg.Checks) != len(wantChecks) {
		t.Fatalf("got %d checks, want %d", len(cfg.Checks), len(wantChecks))
	}
	for i, want := range wantChecks {
		if got := cfg.Checks[i]; !reflect.DeepEqual(got, want) {
			t.Errorf("Checks[%d] =\n%+v (spec %+v)\nwant\n%+v (spec %+v)", i, got, got.Spec, want, want.Spec)
		}
	}

	got, ok := cfg.Check("dlq-2")
	if !ok || got.ID != "dlq-2" || got.Schedule != "@hourly" {
		t.Errorf("Check(dlq-2) = %+v, %v", got, ok)
	}
	if _, ok := cfg.Check("nope"); ok {
		t.Error("Check(nope) found a check")
	}
}

func TestLoadDefaults(t *testing.T) {
	path := filepath.Join("testdata", "good", "minimal.yaml")
	dir := filepath.Join("testdata", "good")

	cfg := load(t, path)

	if want := (config.Server{Listen: "127.0.0.1:8080", BaseURL: "http://127.0.0.1:8080"}); !reflect.DeepEqual(cfg.Server, want) {
		t.Errorf("Server = %+v, want %+v", cfg.Server, want)
	}
	if want := (config.Store{Driver: "sqlite", DSN: filepath.Join(dir, "vigil.db")}); cfg.Store != want {
		t.Errorf("Store = %+v, want %+v", cfg.Store, want)
	}
	if want := (config.Sinks{Datadog: config.Datadog{Namespace: "vigil"}, Slack: config.Slack{GroupWait: config.DefaultGroupWait}}); !reflect.DeepEqual(cfg.Sinks, want) {
		t.Errorf("Sinks = %+v, want %+v", cfg.Sinks, want)
	}
	if want := filepath.Join(dir, "runbooks"); cfg.RunbooksDir != want {
		t.Errorf("RunbooksDir = %q, want %q", cfg.RunbooksDir, want)
	}
	if cfg.Retention.Raw != 14*24*time.Hour {
		t.Errorf("Retention.Raw = %s, want 336h", cfg.Retention.Raw)
	}
	if ds := cfg.Datasources["db"]; ds.DSN != "/var/lib/vigil/policies.db" {
		t.Errorf("absolute sqlite DSN changed to %q", ds.DSN)
	}
	want := config.Check{
		ID: "rows", Kind: "fake", Datasource: "db", Schedule: "@every 5m", Timeout: 60 * time.Second,
		FailAfter: 1, ResolveAfter: 1, Line: 4, Spec: &fakeSpec{Query: "SELECT 1"},
	}
	if len(cfg.Checks) != 1 || !reflect.DeepEqual(cfg.Checks[0], want) {
		t.Errorf("Checks = %+v, want [%+v]", cfg.Checks, want)
	}
}

// TestLoadBad loads each testdata/bad/*.yaml and compares the whole error
// with the .golden file beside it (go test -update rewrites them).
func TestLoadBad(t *testing.T) {
	t.Setenv("VIGIL_TEST_DEFINED", "ok")
	t.Setenv("VIGIL_TEST_UNDEFINED", "")
	os.Unsetenv("VIGIL_TEST_UNDEFINED")
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(path, fakeKinds())
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want problems", path, cfg)
			}
			if cfg != nil {
				t.Errorf("Load returned a config with its error")
			}
			var ps config.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %T is not Problems: %v", err, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden: %v", err)
			}
			if got != string(want) {
				t.Errorf("problems differ\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	_, err := config.Load(path, fakeKinds())
	var ps *config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %T is not *Problems: %v", err, err)
	}
	want := path + ": read config: open " + path + ": no such file or directory"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		ps   config.Problems
		want string
	}{
		{
			name: "with lines",
			ps:   config.Problems{{File: "vigil.yaml", Line: 7, Msg: `unknown field "scheduel" in check "x"`}},
			want: `vigil.yaml:7: unknown field "scheduel" in check "x"`,
		},
		{
			name: "without a line",
			ps:   config.Problems{{File: "vigil.yaml", Msg: "read config: denied"}, {File: "rules.yaml", Line: 2, Msg: "bad"}},
			want: "vigil.yaml: read config: denied\nrules.yaml:2: bad",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ps.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		value string
		want  string
	}{
		{name: "whole value", env: map[string]string{"VIGIL_TEST_A": "x"}, value: "${VIGIL_TEST_A}", want: "x"},
		{name: "inside text", env: map[string]string{"VIGIL_TEST_A": "b"}, value: "a${VIGIL_TEST_A}c${VIGIL_TEST_A}", want: "abcb"},
		{name: "dollar dollar", value: "$${VIGIL_TEST_A} and $$", want: "${VIGIL_TEST_A} and $"},
		{name: "lone dollar", value: "cost > $1 $", want: "cost > $1 $"},
		{name: "defined empty", env: map[string]string{"VIGIL_TEST_A": ""}, value: "[${VIGIL_TEST_A}]", want: "[]"},
		{name: "value not expanded again", env: map[string]string{"VIGIL_TEST_A": "${VIGIL_TEST_B}"}, value: "${VIGIL_TEST_A}", want: "${VIGIL_TEST_B}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			value := tt.value
			dir := t.TempDir()
			path := filepath.Join(dir, "vigil.yaml")
			body := "datasources: {}\nchecks:\n  - id: a\n    kind: fake_http\n    url: '" + value + "'\n"
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := load(t, path)
			if got := cfg.Checks[0].Spec.(*fakeHTTPSpec).URL; got != tt.want {
				t.Errorf("url = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHTTPOnlyNeedsNoDatasources: a config whose checks need no datasource
// (issue 15) loads without a `datasources:` mapping; a null value keeps a
// field's default, as an absent one does.
func TestHTTPOnlyNeedsNoDatasources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	body := "sinks: {datadog: {namespace: ~}}\nchecks:\n  - {id: api, kind: fake_http, url: 'http://127.0.0.1:1/'}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, path)
	if len(cfg.Datasources) != 0 || len(cfg.Checks) != 1 {
		t.Errorf("datasources %v, checks %d; want none and 1", cfg.Datasources, len(cfg.Checks))
	}
	if cfg.Sinks.Datadog.Namespace != config.DefaultNamespace {
		t.Errorf("namespace: ~ gave %q, want the default %q", cfg.Sinks.Datadog.Namespace, config.DefaultNamespace)
	}
}

// TestLoadPartial: with problems, LoadPartial still returns what it read
// (the checks with an id, the runbooks folder), so that `vigil validate`
// reports runbook problems in the same pass.
func TestLoadPartial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	body := "runbooks_dir: rb\nserver: {listen: nowhere}\nchecks:\n  - {id: api, kind: fake_http, url: 'http://127.0.0.1:1/', runbook: api}\n  - {id: broken, kind: fake_http, urll: x}\n  - {kind: fake_http}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err := config.Load(path, fakeKinds()); err == nil || cfg != nil {
		t.Fatalf("Load = %v, %v; want nil and problems", cfg, err)
	}
	cfg, err := config.LoadPartial(path, fakeKinds())
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 3 {
		t.Fatalf("problems = %v, want 3 (listen, urll, missing id)", err)
	}
	if cfg == nil {
		t.Fatal("LoadPartial returned no config")
	}
	var ids []string
	for _, c := range cfg.Checks {
		ids = append(ids, c.ID)
	}
	if !reflect.DeepEqual(ids, []string{"api", "broken"}) || cfg.Checks[0].Runbook != "api" || cfg.Checks[1].Spec != nil {
		t.Errorf("checks = %+v", cfg.Checks)
	}
	if want := filepath.Join(filepath.Dir(path), "rb"); cfg.RunbooksDir != want {
		t.Errorf("RunbooksDir = %q, want %q", cfg.RunbooksDir, want)
	}
}
