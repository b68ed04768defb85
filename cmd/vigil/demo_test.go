package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	httpcheck "github.com/vigilhq/vigil/checks/http"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/demo"
	"github.com/vigilhq/vigil/internal/store"
)

// TestDemoFlags: a bad --scenario or flag is a usage error (exit 2) that
// lists the scenario names, before anything starts.
func TestDemoFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "unknown scenario", args: []string{"--scenario", "reissue-missing-copy", "--scenario", "flood"},
			want: append([]string{`unknown scenario "flood"`}, demo.CatalogNames()...)},
		{name: "unknown flag", args: []string{"--config", "x.yaml"}, want: []string{"flag provided but not defined: -config", "-scenario"}},
		{name: "stray argument", args: []string{"slow-api"}, want: []string{`unexpected argument "slow-api"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(t.Context(), append([]string{"demo"}, tt.args...), &stdout, &stderr); code != exitBroken {
				t.Fatalf("exit %d, want %d\n%s", code, exitBroken, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing (nothing started)", stdout.String())
			}
		})
	}
}

// runningDemo is a demo started in-process for a test.
type runningDemo struct {
	sb    *demo.Sandbox
	sv    serving
	base  string
	out   *syncBuffer
	stop  context.CancelFunc
	done  chan error
	watch *socketWatch
}

// startDemo runs `vigil demo` in-process on 127.0.0.1:0, watching the
// process's sockets from before it starts until it stops.
func startDemo(t *testing.T, scenarios ...string) *runningDemo {
	t.Helper()
	d := &runningDemo{out: &syncBuffer{}, done: make(chan error, 1), watch: watchSockets(t)}
	ctx, stop := context.WithCancel(context.Background())
	d.stop = stop
	started := make(chan struct{})
	var stdout bytes.Buffer
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { d.out.WriteString(string(p)); return len(p), nil }), nil))
	go func() {
		d.done <- runDemo(ctx, demoOptions{listen: "127.0.0.1:0", scenarios: scenarios, policies: 1000, started: func(sb *demo.Sandbox, sv serving) {
			d.sb, d.sv = sb, sv
			close(started)
		}}, &stdout, logger)
	}()
	select {
	case <-started:
	case err := <-d.done:
		t.Fatalf("demo stopped: %v\n%s", err, d.out)
	case <-time.After(60 * time.Second):
		t.Fatalf("demo did not start\n%s", d.out)
	}
	d.base = d.sb.BaseURL()
	if !strings.Contains(stdout.String(), d.base) || !strings.Contains(stdout.String(), "trainee-demo") {
		t.Errorf("banner lacks the URL and the users:\n%s", stdout.String())
	}
	t.Cleanup(func() { d.shutdown(t) })
	return d
}

func (d *runningDemo) shutdown(t *testing.T) {
	t.Helper()
	if d.stop == nil {
		return
	}
	d.stop()
	d.stop = nil
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("demo: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Errorf("demo did not stop\n%s", d.out)
	}
	d.watch.stop()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// waitFor polls cond until it holds or fails the test after 30s.
func waitFor(t *testing.T, what string, logs fmt.Stringer, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// incident returns the check's newest incident opened at or after since.
func (d *runningDemo) incident(ctx context.Context, check string, since time.Time) (store.Incident, bool, error) {
	incs, err := d.sv.Store.Incidents(ctx, store.IncidentQuery{CheckID: check, Limit: 1})
	if err != nil || len(incs) == 0 || incs[0].OpenedAt.Before(since) {
		return store.Incident{}, false, err
	}
	return incs[0], true, nil
}

// TestDemoSandbox starts the whole sandbox in-process and drives every
// scenario through the real engine, checks and sinks: the check fails and
// opens an incident, clearing resolves it, and the signals panel's capture
// holds what production would have sent. The process never connects
// anywhere but loopback.
func TestDemoSandbox(t *testing.T) {
	d := startDemo(t, "slow-api", "stale-warehouse")
	ctx := t.Context()

	t.Run("started with --scenario", func(t *testing.T) {
		if got := strings.Join(d.sb.Active(), ","); got != "stale-warehouse,slow-api" {
			t.Fatalf("Active() = %s", got)
		}
		for _, sc := range []string{"slow-api", "stale-warehouse"} {
			checks := []string{mustScenario(t, sc).Check}
			if sc == demo.ScenarioStaleWarehouse {
				checks = append(checks, "landing-freshness") // the stalled extract shows there first
			}
			incs := map[string]store.Incident{}
			for _, check := range checks {
				waitFor(t, check+" to fail", d.out, func() (ok bool, err error) {
					var inc store.Incident
					inc, ok, err = d.incident(ctx, check, time.Time{})
					incs[check] = inc
					return ok, err
				})
			}
			if err := d.sb.Clear(ctx, sc); err != nil {
				t.Fatal(err)
			}
			for _, check := range checks {
				waitFor(t, check+" to resolve", d.out, func() (bool, error) {
					got, err := d.sv.Store.Incident(ctx, incs[check].ID)
					return !got.Open(), err
				})
			}
		}
	})

	t.Run("every endpoint is loopback", func(t *testing.T) {
		cfg, err := config.Load(d.sb.ConfigPath(), kinds())
		if err != nil {
			t.Fatal(err)
		}
		kindsSeen := map[string]bool{}
		endpoints := map[string]string{
			"server.listen":       "tcp://" + cfg.Server.Listen,
			"server.base_url":     cfg.Server.BaseURL,
			"sinks.datadog.addr":  "udp://" + cfg.Sinks.Datadog.Addr,
			"sinks.sentry.dsn":    cfg.Sinks.Sentry.DSN,
			"sinks.slack.webhook": cfg.Sinks.Slack.WebhookURL,
			"datasources.queues":  cfg.Datasources[demo.QueuesSource].Endpoint,
			"sqs client (fake)":   d.sb.SQS().Endpoint(),
			"datasources.landing": cfg.Datasources[demo.LandingSource].Endpoint,
			"s3 client (fake)":    d.sb.S3().Endpoint(),
		}
		for _, c := range cfg.Checks {
			kindsSeen[c.Kind] = true
			if spec, ok := c.Spec.(*httpcheck.Spec); ok {
				endpoints["checks."+c.ID+".url"] = spec.URL
			}
			if c.Runbook == "" {
				t.Errorf("check %s has no runbook", c.ID)
			}
		}
		for _, k := range []string{"endorsements", "duplicates", "transitions", "freshness", "sql", "sqs_dlq", "http", "s3_freshness"} {
			if !kindsSeen[k] {
				t.Errorf("the sandbox configures no %s check", k)
			}
		}
		if cfg.Store.Driver != "sqlite" || !strings.HasPrefix(cfg.Store.DSN, d.sb.Dir()) {
			t.Errorf("store %s %s is not a file in the sandbox", cfg.Store.Driver, cfg.Store.DSN)
		}
		for name, raw := range endpoints {
			u, err := url.Parse(raw)
			if err != nil {
				t.Errorf("%s: %q: %v", name, raw, err)
				continue
			}
			if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
				t.Errorf("%s = %q is not a loopback address", name, raw)
			}
		}
		if !cfg.Auth.Configured() || len(cfg.Auth.Users) != 3 {
			t.Errorf("auth users %+v, want one per role", cfg.Auth.Users)
		}
	})

	for _, sc := range demo.Catalog() {
		t.Run(sc.Name, func(t *testing.T) {
			before := time.Now()
			if err := d.sb.Inject(ctx, sc.Name); err != nil {
				t.Fatal(err)
			}
			if got := d.sb.Active(); len(got) != 1 || got[0] != sc.Name {
				t.Fatalf("Active() = %v", got)
			}
			var inc store.Incident
			waitFor(t, sc.Check+" to open an incident", d.out, func() (ok bool, err error) {
				inc, ok, err = d.incident(ctx, sc.Check, before)
				return ok, err
			})
			run, err := d.sv.Store.LatestResult(ctx, sc.Check)
			if err != nil || run.Result.Status != checks.Fail || run.Result.Violations == 0 {
				t.Fatalf("latest result of %s: %+v, %v", sc.Check, run.Result, err)
			}
			cleared := time.Now()
			if err := d.sb.Clear(ctx, sc.Name); err != nil {
				t.Fatal(err)
			}
			waitFor(t, sc.Check+" to resolve", d.out, func() (bool, error) {
				got, err := d.sv.Store.Incident(ctx, inc.ID)
				return !got.Open(), err
			})
			if run, err := d.sv.Store.LatestResult(ctx, sc.Check); err != nil || run.Result.Status != checks.Pass {
				t.Fatalf("after clearing, %s: %+v, %v", sc.Check, run.Result, err)
			}
			if len(d.sb.Active()) != 0 {
				t.Fatalf("Active() = %v after Clear", d.sb.Active())
			}
			// The signals production would have sent, captured.
			waitFor(t, "the Slack resolve message", d.out, func() (bool, error) {
				for _, m := range d.sb.Signals().SlackMessages(0) {
					if m.At.After(cleared) && len(m.Payload.Blocks) > 0 && m.Payload.Blocks[0].Text.Text == "✅ Resolved: "+sc.Check {
						return true, nil
					}
				}
				return false, nil
			})
			if !hasSentryIncident(d.sb.Signals().SentryEvents(0), sc.Check, before) {
				t.Errorf("no Sentry incident event for %s", sc.Check)
			}
			waitFor(t, "DogStatsD lines of the failing run", d.out, func() (bool, error) {
				for _, m := range d.sb.Signals().Metrics(0) {
					if strings.HasPrefix(m.Line, "vigil.check.run:") && strings.Contains(m.Line, "check:"+sc.Check) && strings.Contains(m.Line, "status:fail") {
						return true, nil
					}
				}
				return false, nil
			})
		})
	}

	t.Run("exercise progress", func(t *testing.T) {
		const name, check = "reissue-missing-copy", "missing-endorsements"
		if err := d.sb.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		if ex, err := d.sb.Exercises(ctx); err != nil || len(ex) != 0 {
			t.Fatalf("after Reset: %+v, %v", ex, err)
		}
		before := time.Now()
		if err := d.sb.Inject(ctx, name); err != nil {
			t.Fatal(err)
		}
		var inc store.Incident
		waitFor(t, "the incident", d.out, func() (ok bool, err error) {
			inc, ok, err = d.incident(ctx, check, before)
			return ok, err
		})
		ex := exercise(t, d.sb, name)
		if !ex.Active || ex.Done() != 0 {
			t.Fatalf("fresh exercise: %+v", ex)
		}
		run, err := d.sv.Store.LatestResult(ctx, check)
		if err != nil {
			t.Fatal(err)
		}
		policy, _, _ := strings.Cut(run.Result.Sample[0].Key, "/")

		// What a trainee does, as the dashboard records it.
		d.sb.Viewed("oncall", "/checks/"+check)
		d.sb.Viewed("oncall", "/runbooks/missing-endorsements")
		if _, err := d.sv.Engine.Ack(ctx, inc.ID, "oncall", "reissue "+policy+" lost its copied endorsement; rerunning the copy job"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.sv.Engine.Silence(ctx, "team:policy", time.Now().Add(time.Hour), "oncall", "copy job rerun in progress"); err != nil {
			t.Fatal(err)
		}
		if err := d.sv.Store.Audit(ctx, store.AuditEntry{At: time.Now(), Actor: "oncall", Action: "run", Target: check, Detail: "run now", Remote: "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		ex = exercise(t, d.sb, name)
		for _, s := range ex.Steps {
			if want := s.ID != demo.StepRecover; s.Done != want {
				t.Errorf("step %s done=%v, want %v (%+v)", s.ID, s.Done, want, s)
			}
		}
		if s := step(ex, demo.StepDiagnose); !strings.Contains(s.Evidence, policy) || s.By != "oncall" {
			t.Errorf("diagnose step %+v should cite %s", s, policy)
		}

		if err := d.sb.Clear(ctx, name); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "recovery", d.out, func() (bool, error) {
			return step(exercise(t, d.sb, name), demo.StepRecover).Done, nil
		})
		if ex := exercise(t, d.sb, name); ex.Done() != len(ex.Steps) || ex.Active {
			t.Errorf("after recovery: %d of %d steps, active %v", ex.Done(), len(ex.Steps), ex.Active)
		}
		if err := d.sb.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		if ex, err := d.sb.Exercises(ctx); err != nil || len(ex) != 0 || len(d.sb.Signals().SlackMessages(0)) != 0 {
			t.Fatalf("after Reset: %d exercises, %d slack messages, %v", len(ex), len(d.sb.Signals().SlackMessages(0)), err)
		}
	})

	t.Run("no outbound connection", func(t *testing.T) {
		d.shutdown(t)
		if d.watch.samples() < 10 {
			t.Fatalf("the socket watch sampled only %d times", d.watch.samples())
		}
		if bad := d.watch.outbound(); len(bad) > 0 {
			t.Fatalf("the demo connected beyond loopback:\n%s", strings.Join(bad, "\n"))
		}
		if d.watch.loopbackSeen() == 0 {
			t.Fatal("the watch saw no loopback connection at all: it cannot be watching this process")
		}
	})
}

func mustScenario(t *testing.T, name string) demo.Scenario {
	t.Helper()
	sc, ok := demo.Lookup(name)
	if !ok {
		t.Fatalf("no scenario %s", name)
	}
	return sc
}

func exercise(t *testing.T, sb *demo.Sandbox, name string) demo.Exercise {
	t.Helper()
	all, err := sb.Exercises(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if e.Scenario.Name == name {
			return e
		}
	}
	t.Fatalf("no exercise for %s in %+v", name, all)
	return demo.Exercise{}
}

func step(e demo.Exercise, id string) demo.Step {
	for _, s := range e.Steps {
		if s.ID == id {
			return s
		}
	}
	return demo.Step{}
}

func hasSentryIncident(events []demo.SentryEvent, check string, since time.Time) bool {
	for _, e := range events {
		if e.Type == "event" && !e.At.Before(since) && len(e.Fingerprint) == 1 && e.Fingerprint[0] == check {
			return true
		}
	}
	return false
}

// socketWatch samples this process's sockets (Linux /proc) and keeps every
// remote address they were connected or connecting to.
type socketWatch struct {
	quit chan struct{}
	done chan struct{}

	mu       sync.Mutex
	n        int
	remotes  map[string]bool // "proto remote"
	loopback int
}

func watchSockets(t *testing.T) *socketWatch {
	t.Helper()
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		t.Fatalf("socket watch needs Linux /proc: %v", err)
	}
	w := &socketWatch{quit: make(chan struct{}), done: make(chan struct{}), remotes: map[string]bool{}}
	go func() {
		defer close(w.done)
		for {
			w.sample()
			select {
			case <-w.quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *socketWatch) stop() {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
}

// sample reads the inodes of this process's sockets, then the remote
// address of each in the kernel's socket tables.
func (w *socketWatch) sample() {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		raw, err := os.ReadFile("/proc/self/net/" + proto)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			ip, port := procAddr(f[2])
			switch {
			case ip == nil || ip.IsUnspecified() && port == 0:
				// not connected (a listener or an unconnected UDP socket)
			case ip.IsLoopback():
				w.loopback++
			default:
				w.remotes[proto+" "+net.JoinHostPort(ip.String(), strconv.Itoa(port))] = true
			}
		}
	}
}

// procAddr decodes a /proc/net address, "0100007F:1F90" (little-endian
// words).
func procAddr(s string) (net.IP, int) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0
	}
	port, _ := strconv.ParseUint(hexPort, 16, 16)
	b := make([]byte, len(hexIP)/2)
	for i := range b {
		v, err := strconv.ParseUint(hexIP[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, 0
		}
		b[i] = byte(v)
	}
	ip := make(net.IP, len(b))
	for word := 0; word+4 <= len(b); word += 4 {
		for j := range 4 {
			ip[word+j] = b[word+3-j]
		}
	}
	return ip, int(port)
}

func (w *socketWatch) outbound() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for r := range w.remotes {
		out = append(out, r)
	}
	return out
}

func (w *socketWatch) samples() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *socketWatch) loopbackSeen() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loopback
}

// TestProcAddr decodes the kernel's socket table addresses the watch reads.
func TestProcAddr(t *testing.T) {
	tests := []struct {
		name, in, ip string
		port         int
	}{
		{name: "IPv4 loopback", in: "0100007F:1F90", ip: "127.0.0.1", port: 8080},
		{name: "IPv4 public", in: "08080808:0035", ip: "8.8.8.8", port: 53},
		{name: "IPv6 loopback", in: "00000000000000000000000001000000:0050", ip: "::1", port: 80},
		{name: "IPv4-mapped loopback", in: "0000000000000000FFFF00000100007F:0050", ip: "127.0.0.1", port: 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, port := procAddr(tt.in)
			if ip.String() != tt.ip || port != tt.port {
				t.Fatalf("procAddr(%s) = %s:%d, want %s:%d", tt.in, ip, port, tt.ip, tt.port)
			}
		})
	}
}
