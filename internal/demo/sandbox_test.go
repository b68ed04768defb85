package demo

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/duplicates"
	"github.com/vigilhq/vigil/checks/endorsements"
	"github.com/vigilhq/vigil/checks/freshness"
	httpcheck "github.com/vigilhq/vigil/checks/http"
	"github.com/vigilhq/vigil/checks/s3freshness"
	"github.com/vigilhq/vigil/checks/sqlrows"
	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/checks/transitions"
	"github.com/vigilhq/vigil/internal/config"
)

func startSandbox(t *testing.T) *Sandbox {
	t.Helper()
	sb, err := Start(t.Context(), SandboxOptions{
		Dir: t.TempDir(), Listen: "127.0.0.1:0", Policies: 300, SlowLatency: 900 * time.Millisecond, TrafficEvery: 20 * time.Millisecond,
		HashPassword: func(p string) (string, error) {
			h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
			return string(h), err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Error(err)
		}
	})
	return sb
}

// allKinds is every kind vigil registers (cmd/vigil's kinds()).
func allKinds() checks.Registry {
	return checks.NewRegistry(endorsements.Kind, duplicates.Kind, transitions.Kind, freshness.Kind, sqlrows.Kind, sqsdlq.Kind, httpcheck.Kind, s3freshness.Kind)
}

// TestSandboxConfigLoads: the config the sandbox writes passes the real
// loader, with every kind, runbook and demo user.
func TestSandboxConfigLoads(t *testing.T) {
	sb := startSandbox(t)
	cfg, err := config.Load(sb.ConfigPath(), allKinds())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Checks) != 8 || len(cfg.Auth.Users) != len(DemoUsers) {
		t.Fatalf("%d checks, %d users", len(cfg.Checks), len(cfg.Auth.Users))
	}
	for _, c := range cfg.Checks {
		if c.Schedule != "@every 5s" {
			t.Errorf("%s: schedule %q", c.ID, c.Schedule)
		}
	}
	for _, sc := range Catalog() {
		c, ok := cfg.Check(sc.Check)
		if !ok || c.Runbook != sc.Runbook {
			t.Errorf("scenario %s: check %s with runbook %q not configured (got %+v)", sc.Name, sc.Check, sc.Runbook, c)
		}
		if tag := checkTags[sc.Check]; !strings.Contains(strings.Join(c.Tags, ","), tag) {
			t.Errorf("check %s tags %v lack %s", sc.Check, c.Tags, tag)
		}
	}
}

// TestSandboxScenarios injects and clears through the Go API.
func TestSandboxScenarios(t *testing.T) {
	sb := startSandbox(t)
	ctx := t.Context()

	err := sb.Inject(ctx, "flood")
	if !errors.Is(err, ErrUnknownScenario) {
		t.Fatalf("Inject(flood) = %v", err)
	}
	for _, n := range CatalogNames() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("the error %q does not list %s", err, n)
		}
	}
	if len(CatalogNames()) != 6 {
		t.Fatalf("catalog %v, want the six scenarios of the issue", CatalogNames())
	}

	t.Run("slow-api makes the quote API slow and failing", func(t *testing.T) {
		quote := func() (int, time.Duration) {
			start := time.Now()
			resp, err := http.Get(sb.quote.url())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			return resp.StatusCode, time.Since(start)
		}
		if code, _ := quote(); code != http.StatusOK {
			t.Fatalf("healthy quote API: %d", code)
		}
		if err := sb.Inject(ctx, ScenarioSlowAPI); err != nil {
			t.Fatal(err)
		}
		if code, took := quote(); code != http.StatusGatewayTimeout || took < 900*time.Millisecond {
			t.Fatalf("slow quote API: %d after %s", code, took)
		}
		if err := sb.Clear(ctx, ScenarioSlowAPI); err != nil {
			t.Fatal(err)
		}
		if code, _ := quote(); code != http.StatusOK {
			t.Fatalf("cleared quote API: %d", code)
		}
	})

	t.Run("dlq-filling fills the DLQ until cleared", func(t *testing.T) {
		if err := sb.Inject(ctx, ScenarioDLQFilling); err != nil {
			t.Fatal(err)
		}
		first := sb.SQS().Depth(DeadLetterQueue)
		if first < 26 {
			t.Fatalf("DLQ depth %d right after injecting, want over fail_above 25", first)
		}
		eventually(t, "the DLQ to keep growing", func() bool { return sb.SQS().Depth(DeadLetterQueue) > first })
		if err := sb.Inject(ctx, ScenarioDLQFilling); err != nil { // idempotent
			t.Fatal(err)
		}
		if err := sb.Clear(ctx, ScenarioDLQFilling); err != nil {
			t.Fatal(err)
		}
		if d := sb.SQS().Depth(DeadLetterQueue); d != 0 {
			t.Fatalf("DLQ depth %d after clearing", d)
		}
		tasks := sb.SQS().MoveTasks()
		if len(tasks) != 1 || tasks[0].Status != "COMPLETED" || tasks[0].Moved < int64(first) {
			t.Fatalf("clearing should redrive the DLQ: %+v", tasks)
		}
		time.Sleep(100 * time.Millisecond) // a few traffic ticks: the healthy consumer keeps the DLQ empty
		if d := sb.SQS().Depth(DeadLetterQueue); d != 0 {
			t.Fatalf("DLQ depth %d with the consumer fixed", d)
		}
	})

	t.Run("active, exercises and reset", func(t *testing.T) {
		for _, n := range []string{"stale-warehouse", "double-write"} {
			if err := sb.Inject(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		if got := strings.Join(sb.Active(), ","); got != "double-write,stale-warehouse" {
			t.Fatalf("Active() = %s", got)
		}
		ex, err := sb.Exercises(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Every scenario injected since the start has an exercise, in display order.
		var names []string
		for _, e := range ex {
			names = append(names, e.Scenario.Name)
			if len(e.Steps) != 7 {
				t.Errorf("%s: %d steps", e.Scenario.Name, len(e.Steps))
			}
		}
		if got := strings.Join(names, ","); got != "double-write,dlq-filling,stale-warehouse,slow-api" {
			t.Fatalf("exercises %s", got)
		}
		// Without a store only page views count, and only while an incident is open.
		sb.Viewed("trainee", "/runbooks/duplicate-documents")
		sb.Viewed("trainee", "/runbooks/duplicate-documents-old")
		sb.Viewed("trainee", "/checks/duplicate-documents")
		ex, _ = sb.Exercises(ctx)
		if s := ex[0].Steps; !s[1].Done || s[1].By != "trainee" || s[0].Done || ex[0].Done() != 1 {
			t.Fatalf("double-write steps %+v", s)
		}
		if err := sb.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		if ex, _ := sb.Exercises(ctx); len(ex) != 0 || len(sb.Active()) != 0 {
			t.Fatalf("after Reset: %d exercises, active %v", len(ex), sb.Active())
		}
	})
}
