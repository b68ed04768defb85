package scriptlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedRuns appends n finished runs (spread over a year before end, with
// realistic actors, purposes, tickets, inputs and output) in one
// transaction, through the same append path as Start and Finish.
func seedRuns(tb testing.TB, log *SQL, n int, end time.Time) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	actors := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe"}
	targets := []string{"policies", "warehouse", "queues", "documents", "billing", "claims", "agents", "quotes"}
	verbs := []string{"backfill", "fix", "redrive", "re-attach", "clean up", "recompute", "migrate", "reindex"}
	nouns := []string{"endorsements", "duplicate documents", "stuck transitions", "orders-dlq", "stale loads",
		"premium totals", "agency codes", "renewal dates"}
	output := strings.Repeat("processed batch; rows updated: 100\n", 15)
	ctx := context.Background()
	err := log.inAppend(ctx, func(q querier) error {
		for i := range n {
			at := end.Add(-time.Duration(n-i) * (365 * 24 * time.Hour / time.Duration(n)))
			inputs, _ := encodeInputs(Inputs{
				Args: []string{"--since", at.Format("2006-01-02"), "--batch", fmt.Sprint(rng.IntN(5000)), "--id", fmt.Sprintf("P-%06d", rng.IntN(1000000))},
				Env:  []EnvVar{{Name: "PGHOST", Value: "db.internal"}, {Name: "PGPASSWORD", Value: Mask}},
			})
			start := Entry{
				Kind: KindStart, Script: "./" + strings.ReplaceAll(verbs[rng.IntN(len(verbs))], " ", "-") + ".sh --since " + at.Format("2006-01-02"),
				ScriptSHA256: fmt.Sprintf("%064x", rng.Uint64()), Actor: actors[rng.IntN(len(actors))],
				Purpose: verbs[rng.IntN(len(verbs))] + " " + nouns[rng.IntN(len(nouns))] + " after incident " + fmt.Sprint(rng.IntN(900)),
				Ticket:  fmt.Sprintf("OPS-%d", rng.IntN(5000)), Target: targets[rng.IntN(len(targets))], Inputs: inputs, At: at,
			}
			if err := log.appendEntry(ctx, q, &start); err != nil {
				return err
			}
			status, code := Success, 0
			switch p := rng.IntN(100); {
			case p < 8:
				status, code = Failed, 1+rng.IntN(3)
			case p < 10:
				status, code = Interrupted, 130
			}
			fin := Entry{Kind: KindFinish, RunID: start.Seq, At: at.Add(time.Minute), DurationMS: 60000, ExitCode: code,
				Status: status, Output: []byte(output), OutputBytes: int64(len(output))}
			if err := log.appendEntry(ctx, q, &fin); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkSearch searches 100,000 runs on SQLite and reports each query's
// median latency (p50-ms) besides the mean (ns/op).
func BenchmarkSearch(b *testing.B) {
	log, _ := openLog(b, "sqlite")
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seedRuns(b, log, 100_000, end)
	week := 7 * 24 * time.Hour
	queries := []struct {
		name string
		q    Query
	}{
		{"newest", Query{}},
		{"actor", Query{Actor: "carol"}},
		{"ticket", Query{Ticket: "OPS-1234"}},
		{"target", Query{Target: "claims"}},
		{"status_failed", Query{Status: Failed}},
		{"status_interrupted", Query{Status: Interrupted}},
		{"purpose_common", Query{Purpose: "orders-dlq"}},
		{"purpose_rare", Query{Purpose: "incident 123"}},
		{"text_common", Query{Text: "--since"}},
		{"text_short", Query{Text: "P-"}},
		{"text_rare", Query{Text: "P-123456"}},
		{"text_none", Query{Text: "no such input anywhere"}},
		{"date_range", Query{From: end.Add(-20 * week), To: end.Add(-19 * week)}},
		{"combined", Query{Actor: "alice", Status: Failed, From: end.Add(-26 * week)}},
		{"page_offset_1000", Query{Offset: 1000}},
		{"page_keyset", Query{BeforeID: 100_000}},
	}
	for _, qq := range queries {
		b.Run(qq.name, func(b *testing.B) {
			ctx := context.Background()
			var took []time.Duration
			for b.Loop() {
				begin := time.Now()
				if _, err := log.Search(ctx, qq.q); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(begin))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
		})
	}
}

// BenchmarkVerify walks and checks a chain of 10,000 runs.
func BenchmarkVerify(b *testing.B) {
	log, _ := openLog(b, "sqlite")
	seedRuns(b, log, 10_000, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for b.Loop() {
		if rep, err := Verify(context.Background(), log, VerifyOptions{}); err != nil || !rep.OK() {
			b.Fatal(rep.Broken, err)
		}
	}
}
