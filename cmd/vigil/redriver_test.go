package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/scriptlog"
	"github.com/vigilhq/vigil/internal/sqstest"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/web"
)

// scriptRuns returns the script log's runs with target, newest first.
func scriptRuns(t *testing.T, st *store.Store, target string) []scriptlog.Record {
	t.Helper()
	log, err := scriptlog.NewSQL(st.DB(), st.Driver(), scriptlog.Key{})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := log.Search(context.Background(), scriptlog.Query{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range runs {
		if runs[i], err = log.Get(context.Background(), r.ID); err != nil {
			t.Fatal(err)
		}
	}
	return runs
}

// TestCLIRedriveIsAScriptRun: `vigil redrive` records each redrive (a dry
// run, a move, a refusal) in the script log as well as the audit log.
func TestCLIRedriveIsAScriptRun(t *testing.T) {
	srv := sqstest.Start(t)
	pair := srv.CreatePair(t, "claims", "claims-dlq", 1, nil, nil)
	srv.FailMessages(t, pair, 2)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
datasources:
  queues: {driver: sqs, region: us-east-1, endpoint: "` + srv.Endpoint + `"}
checks:
  - id: claims-dlq
    kind: sqs_dlq
    datasource: queues
    queues: [claims-dlq]
`})
	cfg := filepath.Join(dir, "vigil.yaml")
	for _, args := range [][]string{
		{"--queue", "claims-dlq", "--dry-run"},
		{"--queue", "claims-dlq", "--rate", "20"},
	} {
		if out, stderr, code := vigil(t, nil, append([]string{"redrive", "-c", cfg, "--actor", "alice"}, args...)...); code != 0 {
			t.Fatalf("redrive %v: exit %d\n%s%s", args, code, out, stderr)
		}
	}
	if _, stderr, code := vigil(t, nil, "redrive", "-c", cfg, "--actor", "bob", "--queue", "claims"); code != 2 || !strings.Contains(stderr, "dead-letter") {
		t.Fatalf("redrive of a source queue: exit %d, %s", code, stderr)
	}

	st, err := store.Open(t.Context(), "sqlite", filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs := append(scriptRuns(t, st, "claims"), scriptRuns(t, st, "claims-dlq")...)
	tests := []struct {
		name                           string
		got                            scriptlog.Record
		actor, purpose, script, output string
		status                         scriptlog.Status
	}{
		{name: "refusal", got: runs[0], actor: "bob", purpose: "redrive claims", status: scriptlog.Failed,
			script: "vigil redrive --queue claims --rate 10 --datasource queues", output: "not the dead-letter queue"},
		{name: "move", got: runs[1], actor: "alice", purpose: "redrive claims-dlq", status: scriptlog.Success,
			script: "vigil redrive --queue claims-dlq --rate 20 --datasource queues", output: "moved 2 of 2, status COMPLETED"},
		{name: "dry run", got: runs[2], actor: "alice", purpose: "redrive claims-dlq (dry run)", status: scriptlog.Success,
			script: "vigil redrive --queue claims-dlq --rate 10 --dry-run --datasource queues", output: "dry run: would move 2 messages to claims at 10/s"},
	}
	if len(runs) != len(tests) {
		t.Fatalf("script runs = %+v, want %d", runs, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.got
			if r.Actor != tt.actor || r.Purpose != tt.purpose || r.Script != tt.script || r.Status != tt.status ||
				!strings.Contains(string(r.Output), tt.output) || r.EndedAt.IsZero() {
				t.Errorf("recorded %+v (output %q)\nwant actor %s, purpose %q, script %q, status %s, output with %q",
					r, r.Output, tt.actor, tt.purpose, tt.script, tt.status, tt.output)
			}
		})
	}
	if audit, err := st.AuditLog(t.Context(), 10); err != nil || len(audit) != 3 {
		t.Errorf("audit log = %+v, %v; want the three redrives", audit, err)
	}
}

// TestRedriverInterrupted: a redrive whose context ends is cancelled
// (its move task too) and recorded as interrupted, with the progress seen.
func TestRedriverInterrupted(t *testing.T) {
	srv := sqstest.Start(t)
	pair := srv.CreatePair(t, "slow", "slow-dlq", 1, nil, nil)
	srv.FailMessages(t, pair, 6)
	cfg := &config.Config{Datasources: map[string]config.Datasource{"queues": {Driver: config.DriverSQS, Region: sqstest.Region, Endpoint: srv.Endpoint}}}
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := newSources(cfg, nil)
	defer src.Close()
	r := newRedriver(cfg, src, st)
	r.poll = 50 * time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := r.Redrive(ctx, web.RedriveRequest{Queue: "slow-dlq", Rate: 1, Actor: "oscar"}, func(p sqsdlq.Progress) {
		if p.Moved >= 1 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || res.Status != sqsdlq.StatusCancelled {
		t.Fatalf("Redrive = %+v, %v; want cancelled", res, err)
	}
	runs := scriptRuns(t, st, "slow-dlq")
	if len(runs) != 1 || runs[0].Status != scriptlog.Interrupted || runs[0].Actor != "oscar" || runs[0].ExitCode != 1 ||
		!strings.Contains(string(runs[0].Output), "RUNNING: moved 1 of 6") || !strings.Contains(string(runs[0].Output), "status CANCELLED") {
		t.Fatalf("script runs = %+v", runs)
	}

	// The preview moves nothing and records nothing.
	prev, err := r.Preview(context.Background(), "", "slow-dlq")
	if err != nil || prev.Status != sqsdlq.StatusDryRun || len(scriptRuns(t, st, "slow-dlq")) != 1 {
		t.Errorf("Preview = %+v, %v (and %d script runs)", prev, err, len(scriptRuns(t, st, "slow-dlq")))
	}
}
