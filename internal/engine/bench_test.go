package engine_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/store"
)

// BenchmarkRecord measures one Record (store transaction, state machine,
// key changes, a no-op sink) on SQLite, for a passing check and for a
// check flapping between fail (10 keys) and pass, which opens and resolves
// an incident with an alert each time.
func BenchmarkRecord(b *testing.B) {
	for _, tc := range []struct {
		name string
		run  func(i int) checks.Result
	}{
		{name: "pass", run: func(int) checks.Result { return checks.Result{Status: checks.Pass} }},
		{name: "flapping", run: func(i int) checks.Result {
			if i%2 == 0 {
				return result(checks.Fail, 10)
			}
			return result(checks.Pass, 0)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := store.Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatalf("Open: %v", err)
			}
			defer s.Close()
			e := engine.New(s, []engine.Sink{nopSink{}}, engine.Options{Outbox: true})
			c := info("bench", 1, 1)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := e.Record(context.Background(), c, tc.run(i)); err != nil {
					b.Fatalf("Record: %v", err)
				}
				i++
			}
		})
	}
}

type nopSink struct{}

func (nopSink) Name() string                                { return "nop" }
func (nopSink) Observe(context.Context, engine.Event) error { return nil }
