package datadog_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/datadog"
	"github.com/vigilhq/vigil/internal/notify/datadog/datadogtest"
	"github.com/vigilhq/vigil/internal/scheduler"
)

func newSink(t *testing.T, o datadog.Options) *datadog.Sink {
	t.Helper()
	o.AggregationInterval = time.Hour // only Flush sends, so counts arrive whole
	s, err := datadog.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func flush(t *testing.T, s *datadog.Sink, l *datadogtest.Listener) []string {
	t.Helper()
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return l.Take(50 * time.Millisecond)
}

func TestObserveEmitsExactLines(t *testing.T) {
	policy := engine.CheckInfo{ID: "missing-endorsements", Kind: "endorsements", Owner: "policy-team", Tags: []string{"env:x", "team:policy", "team:other"}}
	bare := engine.CheckInfo{ID: "loads", Kind: "freshness"}
	tests := []struct {
		name   string
		check  engine.CheckInfo
		result checks.Result
		want   []string
	}{
		{
			name:   "fail with owner and team",
			check:  policy,
			result: checks.Result{Status: checks.Fail, Violations: 3, Duration: 1500 * time.Microsecond, Sample: []checks.Violation{{Key: "P-1/EN-1"}}},
			want: []string{
				"vigil.check.duration:1.5|d|#check:missing-endorsements,kind:endorsements,owner:policy-team,team:policy",
				"vigil.check.run:1|c|#check:missing-endorsements,kind:endorsements,owner:policy-team,team:policy,status:fail",
				"vigil.check.up:0|g|#check:missing-endorsements,kind:endorsements,owner:policy-team,team:policy",
				"vigil.check.violations:3|g|#check:missing-endorsements,kind:endorsements,owner:policy-team,team:policy",
			},
		},
		{
			name:   "pass without owner",
			check:  bare,
			result: checks.Result{Status: checks.Pass, DurationMS: 12},
			want: []string{
				"vigil.check.duration:12|d|#check:loads,kind:freshness",
				"vigil.check.run:1|c|#check:loads,kind:freshness,status:pass",
				"vigil.check.up:1|g|#check:loads,kind:freshness",
				"vigil.check.violations:0|g|#check:loads,kind:freshness",
			},
		},
		{
			name:   "warn is up",
			check:  bare,
			result: checks.Result{Status: checks.Warn, Violations: 1, DurationMS: 2},
			want: []string{
				"vigil.check.duration:2|d|#check:loads,kind:freshness",
				"vigil.check.run:1|c|#check:loads,kind:freshness,status:warn",
				"vigil.check.up:1|g|#check:loads,kind:freshness",
				"vigil.check.violations:1|g|#check:loads,kind:freshness",
			},
		},
		{
			name:   "error is down",
			check:  bare,
			result: checks.Result{Status: checks.Error, Error: "dial tcp: refused", Duration: time.Second},
			want: []string{
				"vigil.check.duration:1000|d|#check:loads,kind:freshness",
				"vigil.check.run:1|c|#check:loads,kind:freshness,status:error",
				"vigil.check.up:0|g|#check:loads,kind:freshness",
				"vigil.check.violations:0|g|#check:loads,kind:freshness",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := datadogtest.Listen(t)
			s := newSink(t, datadog.Options{Addr: l.Addr()})
			if err := s.Observe(context.Background(), engine.Event{Check: tt.check, Result: tt.result}); err != nil {
				t.Fatalf("Observe: %v", err)
			}
			if got := flush(t, s, l); !slices.Equal(got, tt.want) {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestAggregatesRunsAndAddsGlobalTags(t *testing.T) {
	l := datadogtest.Listen(t)
	s := newSink(t, datadog.Options{Addr: l.Addr(), Namespace: "acme.", Tags: []string{"env:prod"}})
	check := engine.CheckInfo{ID: "c1", Kind: "sql"}
	for _, st := range []checks.Status{checks.Fail, checks.Fail, checks.Pass} {
		if err := s.Observe(context.Background(), engine.Event{Check: check, Result: checks.Result{Status: st, DurationMS: 5}}); err != nil {
			t.Fatalf("Observe: %v", err)
		}
	}
	want := []string{
		"acme.check.duration:5:5:5|d|#env:prod,check:c1,kind:sql",
		"acme.check.run:1|c|#env:prod,check:c1,kind:sql,status:pass",
		"acme.check.run:2|c|#env:prod,check:c1,kind:sql,status:fail",
		"acme.check.up:1|g|#env:prod,check:c1,kind:sql",
		"acme.check.violations:0|g|#env:prod,check:c1,kind:sql",
	}
	if got := flush(t, s, l); !slices.Equal(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestHealthMetrics(t *testing.T) {
	l := datadogtest.Listen(t)
	s := newSink(t, datadog.Options{Addr: l.Addr()})
	due := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.SinkError("slack", nil)
	s.SinkError("slack", nil)
	s.SinkError("sentry", nil)
	s.SchedulerTick(scheduler.Tick{Job: "c1", Scheduled: due, At: due.Add(time.Second), Outcome: scheduler.Skipped})
	s.SchedulerTick(scheduler.Tick{Job: "c1", Scheduled: due, At: due.Add(250 * time.Millisecond), Outcome: scheduler.Started})
	s.SchedulerTick(scheduler.Tick{Job: "c1", Scheduled: due, At: due.Add(time.Hour), Outcome: scheduler.Started, Manual: true})
	s.SchedulerTick(scheduler.Tick{Job: "c2", Scheduled: due, At: due, Outcome: scheduler.NotLeader})
	want := []string{
		"vigil.scheduler.lag:250|d",
		"vigil.scheduler.skipped:1|c|#check:c1",
		"vigil.sink.errors:1|c|#sink:sentry",
		"vigil.sink.errors:2|c|#sink:slack",
	}
	if got := flush(t, s, l); !slices.Equal(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsd.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer conn.Close()
	s := newSink(t, datadog.Options{Addr: "unix://" + path})
	s.SinkError("slack", nil)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8192)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if got, want := strings.TrimSpace(string(buf[:n])), "vigil.sink.errors:1|c|#sink:slack"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAddress(t *testing.T) {
	tests := []struct {
		name string
		addr string
		env  map[string]string
		want string
	}{
		{name: "config wins", addr: "10.0.0.1:9125", env: map[string]string{"DD_AGENT_HOST": "agent"}, want: "10.0.0.1:9125"},
		{name: "config unix socket", addr: "unix:///var/run/dsd.sock", want: "unix:///var/run/dsd.sock"},
		{name: "default", want: "127.0.0.1:8125"},
		{name: "agent host default port", env: map[string]string{"DD_AGENT_HOST": "agent"}, want: "agent:8125"},
		{name: "agent host and port", env: map[string]string{"DD_AGENT_HOST": "agent", "DD_DOGSTATSD_PORT": "9000"}, want: "agent:9000"},
		{name: "port alone", env: map[string]string{"DD_DOGSTATSD_PORT": "9000"}, want: "127.0.0.1:9000"},
		{name: "agent host with port", env: map[string]string{"DD_AGENT_HOST": "agent:7000", "DD_DOGSTATSD_PORT": "9000"}, want: "agent:7000"},
		{name: "agent host unix", env: map[string]string{"DD_AGENT_HOST": "unix:///tmp/s"}, want: "unix:///tmp/s"},
		{name: "ipv6 host", env: map[string]string{"DD_AGENT_HOST": "::1"}, want: "[::1]:8125"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := datadog.Address(tt.addr, func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Errorf("Address = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSchedulerMetricsPerReplica: replicas sharing a store tag their
// scheduler metrics with the replica, so each replica's lag and skips are
// their own series (DogStatsD datagram format: "#tag:value,..." after the
// type; a tag may hold letters, digits, "_-:./").
func TestSchedulerMetricsPerReplica(t *testing.T) {
	l := datadogtest.Listen(t)
	s := newSink(t, datadog.Options{Addr: l.Addr()})
	due := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.SchedulerTick(scheduler.Tick{Job: "c1", Scheduled: due, At: due.Add(time.Second), Outcome: scheduler.Skipped, Replica: "web-1/7/42"})
	s.SchedulerTick(scheduler.Tick{Job: "c1", Scheduled: due, At: due.Add(250 * time.Millisecond), Outcome: scheduler.Started, Replica: "web-1/7/42"})
	s.SchedulerTick(scheduler.Tick{Job: "c2", Scheduled: due, At: due.Add(100 * time.Millisecond), Outcome: scheduler.Started, Replica: "web-2/9/43"})
	s.SchedulerTick(scheduler.Tick{Job: "c2", Scheduled: due, At: due, Outcome: scheduler.Elsewhere, Replica: "web-2/9/43"})
	want := []string{
		"vigil.scheduler.lag:100|d|#replica:web-2/9/43",
		"vigil.scheduler.lag:250|d|#replica:web-1/7/42",
		"vigil.scheduler.skipped:1|c|#check:c1,replica:web-1/7/42",
	}
	if got := flush(t, s, l); !slices.Equal(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// datagramTags reads a DogStatsD datagram as the agent does
// (https://docs.datadoghq.com/developers/dogstatsd/datagram_shell/:
// <METRIC_NAME>:<VALUE>|<TYPE>|@<SAMPLE_RATE>|#<TAG_1>,<TAG_2>): fields are
// separated by '|', the tags field starts with '#', tags are separated by
// ','. It returns the metric name and its tags, and fails the test on a
// field the format does not define.
func datagramTags(t *testing.T, line string) (string, []string) {
	t.Helper()
	fields := strings.Split(line, "|")
	if len(fields) < 2 {
		t.Fatalf("datagram %q: want <name>:<value>|<type>", line)
	}
	name, _, _ := strings.Cut(fields[0], ":")
	var tags []string
	for _, f := range fields[2:] {
		switch {
		case strings.HasPrefix(f, "#"):
			tags = append(tags, strings.Split(f[1:], ",")...)
		case strings.HasPrefix(f, "@"), strings.HasPrefix(f, "c:"), strings.HasPrefix(f, "T"), strings.HasPrefix(f, "e:"):
		default:
			t.Errorf("datagram %q: field %q is not in the DogStatsD format (the agent drops what follows)", line, f)
		}
	}
	return name, tags
}

// tagProblem says how tag breaks Datadog's tag rules
// (https://docs.datadoghq.com/getting_started/tagging/#define-tags): it
// must start with a letter; then only letters, digits, '_', '-', ':', '.'
// and '/'; it is lower-case (Datadog converts it), at most 200 characters,
// and does not end with a colon. "" when it follows them.
func tagProblem(tag string) string {
	runes := []rune(tag)
	switch {
	case len(runes) == 0:
		return "empty"
	case !unicode.IsLetter(runes[0]):
		return "does not start with a letter"
	case len(runes) > 200:
		return fmt.Sprintf("%d characters, over 200", len(runes))
	case strings.HasSuffix(tag, ":"):
		return "ends with a colon"
	case strings.ToLower(tag) != tag:
		return "not lower-case"
	}
	for _, r := range runes {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-:./", r) {
			return fmt.Sprintf("character %q is not allowed", r)
		}
	}
	return ""
}

func TestTagsFollowDatadogTagRules(t *testing.T) {
	long := strings.Repeat("é", 250)
	tests := []struct {
		name   string
		check  engine.CheckInfo
		global []string
		want   map[string][]string // metric -> exact tags
	}{
		{
			name:  "owner with space, comma and pipe",
			check: engine.CheckInfo{ID: "billing", Kind: "sql", Owner: "Billing Team, EU|west", Tags: []string{"team:Données Clients #1"}},
			want: map[string][]string{
				"vigil.check.run": {"check:billing", "kind:sql", "owner:billing_team__eu_west", "team:données_clients__1", "status:fail"},
				"vigil.check.up":  {"check:billing", "kind:sql", "owner:billing_team__eu_west", "team:données_clients__1"},
			},
		},
		{
			name:   "configured tags, long owner, trailing colon",
			check:  engine.CheckInfo{ID: "c-2", Kind: "http", Owner: long, Tags: []string{"team:ops:"}},
			global: []string{"Env:Prod EU", "9lives:x", "#$%", "region:eu-west-1/a.b"},
			want: map[string][]string{
				"vigil.check.run": {"env:prod_eu", "lives:x", "region:eu-west-1/a.b", "check:c-2", "kind:http", "owner:" + long[:2*(200-len("owner:"))], "team:ops_", "status:fail"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := datadogtest.Listen(t)
			s := newSink(t, datadog.Options{Addr: l.Addr(), Tags: tt.global})
			if err := s.Observe(context.Background(), engine.Event{Check: tt.check, Result: checks.Result{Status: checks.Fail, Violations: 1, DurationMS: 1}}); err != nil {
				t.Fatalf("Observe: %v", err)
			}
			lines := flush(t, s, l)
			if len(lines) != 4 {
				t.Fatalf("%d lines, want 4:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			for _, line := range lines {
				name, tags := datagramTags(t, line)
				for _, tag := range tags {
					if p := tagProblem(tag); p != "" {
						t.Errorf("%s: tag %q breaks Datadog's tag rules: %s", name, tag, p)
					}
				}
				if want, ok := tt.want[name]; ok && !slices.Equal(tags, want) {
					t.Errorf("%s tags:\n got %q\nwant %q", name, tags, want)
				}
			}
		})
	}
}
