// Package storetest is the contract every store.Store must keep, run
// against each driver: storetest.Run(t, open) with open returning a fresh,
// empty store (closed by the test's cleanup or by the suite).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

// Run runs the contract suite. open must return a fresh, empty store each
// time it is called.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("RecordResultRejects", func(t *testing.T) { testRecordRejects(t, open(t)) })
	t.Run("LatestResult", func(t *testing.T) { testLatestResult(t, open(t)) })
	t.Run("Results", func(t *testing.T) { testResults(t, open(t)) })
	t.Run("LatestResults", func(t *testing.T) { testLatestResults(t, open(t)) })
	t.Run("RecentHistory", func(t *testing.T) { testRecentHistory(t, open(t)) })
	t.Run("RunKeys", func(t *testing.T) { testRunKeys(t, open(t)) })
	t.Run("LargeKeySets", func(t *testing.T) { testLargeKeySets(t, open(t)) })
	t.Run("KeyChanges", func(t *testing.T) { testKeyChanges(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("ConcurrentRecordResult", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, open(t)) })
	t.Run("Close", func(t *testing.T) { testClose(t, open(t)) })
	runIncidentSuite(t, open)
	runDashboardSuite(t, open)
	runCountSuite(t, open)
}

var base = time.Date(2025, 3, 9, 1, 59, 58, 123456789, time.UTC)

func record(t *testing.T, s *store.Store, r checks.Result) int64 {
	t.Helper()
	id, err := s.RecordResult(context.Background(), r)
	if err != nil {
		t.Fatalf("RecordResult(%s): %v", r.Check, err)
	}
	return id
}

func result(check string, status checks.Status, keys ...string) checks.Result {
	return checks.Result{Check: check, Kind: "sql", Status: status, Violations: len(keys), Keys: keys, StartedAt: base, Duration: time.Second}
}

func ids(runs []store.Run) []int64 {
	out := []int64{}
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func testRoundTrip(t *testing.T, s *store.Store) {
	ctx := context.Background()
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   checks.Result
		want checks.Result // what comes back (Keys are never loaded)
	}{
		{
			name: "fail with sample, metrics and keys",
			in: checks.Result{
				Check: "missing-endorsements", Kind: "endorsements", Status: checks.Fail, Violations: 3,
				Sample:   []checks.Violation{{Key: "P-1/EN-01", Detail: "needs 1 copy, has 0"}, {Key: "P-2/EN-01", Detail: `<b>&"quoted"</b>`}},
				Duration: 1234567 * time.Microsecond, DurationMS: 1234, StartedAt: base,
				Keys: []string{"P-2/EN-01", "P-1/EN-01", "P-3/EN-01"}, Metrics: map[string]float64{"orders-dlq": 42, "tiny": 1e-300, "neg": -0.5},
			},
			want: checks.Result{
				Check: "missing-endorsements", Kind: "endorsements", Status: checks.Fail, Violations: 3,
				Sample:   []checks.Violation{{Key: "P-1/EN-01", Detail: "needs 1 copy, has 0"}, {Key: "P-2/EN-01", Detail: `<b>&"quoted"</b>`}},
				Duration: 1234567 * time.Microsecond, DurationMS: 1234, StartedAt: base,
				Metrics: map[string]float64{"orders-dlq": 42, "tiny": 1e-300, "neg": -0.5},
			},
		},
		{
			name: "pass with nothing optional",
			in:   checks.Result{Check: "fresh", Kind: "freshness", Status: checks.Pass},
			want: checks.Result{Check: "fresh", Kind: "freshness", Status: checks.Pass},
		},
		{
			name: "empty sample and metrics stay empty, not nil",
			in:   checks.Result{Check: "empty", Kind: "sql", Status: checks.Pass, Sample: []checks.Violation{}, Metrics: map[string]float64{}, StartedAt: base},
			want: checks.Result{Check: "empty", Kind: "sql", Status: checks.Pass, Sample: []checks.Violation{}, Metrics: map[string]float64{}, StartedAt: base},
		},
		{
			name: "error with message, start time in another zone comes back in UTC",
			in:   checks.Result{Check: "policies-db", Kind: "sql", Status: checks.Error, Error: "dial tcp 10.0.0.1:5432: connection refused", StartedAt: base.In(paris), Duration: 30 * time.Second},
			want: checks.Result{Check: "policies-db", Kind: "sql", Status: checks.Error, Error: "dial tcp 10.0.0.1:5432: connection refused", StartedAt: base, Duration: 30 * time.Second, DurationMS: 30000},
		},
		{
			name: "duration from DurationMS alone",
			in:   checks.Result{Check: "ms-only", Kind: "http", Status: checks.Warn, DurationMS: 812},
			want: checks.Result{Check: "ms-only", Kind: "http", Status: checks.Warn, Duration: 812 * time.Millisecond, DurationMS: 812},
		},
		{
			name: "unicode everywhere",
			in: checks.Result{
				Check: "ünïcødé-檢查", Kind: "sql", Status: checks.Fail, Violations: 2, Error: "😱 ошибка",
				Sample:    []checks.Violation{{Key: "キー/1", Detail: "Ωmega ≠ 🙂"}, {Key: "e\u0301", Detail: "tab\tnew\nline"}},
				Keys:      []string{"キー/1", "e\u0301"},
				Metrics:   map[string]float64{"dlq-é": 1},
				StartedAt: base.Add(-40 * 365 * 24 * time.Hour),
			},
			want: checks.Result{
				Check: "ünïcødé-檢查", Kind: "sql", Status: checks.Fail, Violations: 2, Error: "😱 ошибка",
				Sample:    []checks.Violation{{Key: "キー/1", Detail: "Ωmega ≠ 🙂"}, {Key: "e\u0301", Detail: "tab\tnew\nline"}},
				Metrics:   map[string]float64{"dlq-é": 1},
				StartedAt: base.Add(-40 * 365 * 24 * time.Hour),
			},
		},
		{
			name: "truncated keys flag",
			in:   checks.Result{Check: "many", Kind: "sql", Status: checks.Fail, Violations: 20000, Keys: []string{"a"}, KeysTruncated: true},
			want: checks.Result{Check: "many", Kind: "sql", Status: checks.Fail, Violations: 20000, KeysTruncated: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := record(t, s, tt.in)
			got, err := s.LatestResult(ctx, tt.in.Check)
			if err != nil {
				t.Fatalf("LatestResult: %v", err)
			}
			if got.ID != id {
				t.Errorf("ID = %d, want %d", got.ID, id)
			}
			if !got.StartedAt.Equal(tt.want.StartedAt) || got.StartedAt.Location() != time.UTC {
				t.Errorf("StartedAt = %v (%v), want %v in UTC", got.StartedAt, got.StartedAt.Location(), tt.want.StartedAt)
			}
			got.StartedAt, tt.want.StartedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got.Result, tt.want) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got.Result, tt.want)
			}
		})
	}

	t.Run("non-finite metrics", func(t *testing.T) {
		record(t, s, checks.Result{Check: "nan", Kind: "sqs_dlq", Status: checks.Pass,
			Metrics: map[string]float64{"nan": math.NaN(), "inf": math.Inf(1), "-inf": math.Inf(-1), "max": math.MaxFloat64}})
		got, err := s.LatestResult(ctx, "nan")
		if err != nil {
			t.Fatalf("LatestResult: %v", err)
		}
		m := got.Metrics
		if len(m) != 4 || !math.IsNaN(m["nan"]) || !math.IsInf(m["inf"], 1) || !math.IsInf(m["-inf"], -1) || m["max"] != math.MaxFloat64 {
			t.Errorf("Metrics = %v, want NaN, +Inf, -Inf and MaxFloat64", m)
		}
	})

	t.Run("text PostgreSQL cannot hold is replaced the same way on every driver", func(t *testing.T) {
		id := record(t, s, checks.Result{Check: "bad\x00bytes", Kind: "sql", Status: checks.Fail, Error: "bad \xff byte",
			Sample: []checks.Violation{{Key: "k\xfe", Detail: "nul\x00here"}}, Keys: []string{"k\xfe", "nul\x00", "k\xff"}})
		got, err := s.LatestResult(ctx, "bad\uFFFDbytes")
		if err != nil {
			t.Fatalf("LatestResult: %v", err)
		}
		if got.Error != "bad \uFFFD byte" {
			t.Errorf("Error = %q, want %q", got.Error, "bad \uFFFD byte")
		}
		if want := []checks.Violation{{Key: "k\uFFFD", Detail: "nul\x00here"}}; !reflect.DeepEqual(got.Sample, want) {
			t.Errorf("Sample = %q, want %q", got.Sample, want)
		}
		keys, err := s.RunKeys(ctx, id)
		if err != nil {
			t.Fatalf("RunKeys: %v", err)
		}
		if want := []string{"k\uFFFD", "nul\uFFFD"}; !slices.Equal(keys, want) {
			t.Errorf("RunKeys = %q, want %q", keys, want)
		}
	})
}

func testRecordRejects(t *testing.T, s *store.Store) {
	tests := []struct {
		name string
		in   checks.Result
	}{
		{name: "empty check id", in: checks.Result{Kind: "sql", Status: checks.Pass}},
		{name: "start before 1678", in: checks.Result{Check: "old", Status: checks.Pass, StartedAt: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "start after 2262", in: checks.Result{Check: "future", Status: checks.Pass, StartedAt: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if id, err := s.RecordResult(context.Background(), tt.in); err == nil {
				t.Fatalf("RecordResult = %d, nil; want an error", id)
			}
			if _, err := s.LatestResult(context.Background(), tt.in.Check); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("after a rejected result, LatestResult error = %v, want ErrNotFound", err)
			}
		})
	}
}

func testLatestResult(t *testing.T, s *store.Store) {
	ctx := context.Background()
	if _, err := s.LatestResult(ctx, "nothing-yet"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestResult on an empty store: error = %v, want ErrNotFound", err)
	}
	record(t, s, result("a", checks.Fail, "k1"))
	record(t, s, result("b", checks.Pass))
	last := record(t, s, result("a", checks.Pass))
	record(t, s, result("b", checks.Warn))

	got, err := s.LatestResult(ctx, "a")
	if err != nil {
		t.Fatalf("LatestResult(a): %v", err)
	}
	if got.ID != last || got.Status != checks.Pass {
		t.Errorf("LatestResult(a) = run %d %s, want run %d pass", got.ID, got.Status, last)
	}
	if _, err := s.LatestResult(ctx, "c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestResult(unknown check) error = %v, want ErrNotFound", err)
	}
}

func testResults(t *testing.T, s *store.Store) {
	ctx := context.Background()
	var want []int64 // check "pager"'s ids, newest first
	for i := range 7 {
		id := record(t, s, result("pager", checks.Fail, fmt.Sprintf("k%d", i)))
		want = append([]int64{id}, want...)
		record(t, s, result("other", checks.Pass))
	}
	for i := 1; i < len(want); i++ {
		if want[i] >= want[i-1] {
			t.Fatalf("run ids do not grow: %v", want)
		}
	}
	tests := []struct {
		name   string
		check  string
		before int64
		limit  int
		want   []int64
	}{
		{name: "first page", check: "pager", limit: 3, want: want[:3]},
		{name: "second page", check: "pager", before: want[2], limit: 3, want: want[3:6]},
		{name: "last page is short", check: "pager", before: want[5], limit: 3, want: want[6:]},
		{name: "past the oldest run", check: "pager", before: want[6], limit: 3, want: []int64{}},
		{name: "before an id that is another check's", check: "pager", before: want[0] + 1, limit: 2, want: want[:2]},
		{name: "zero limit means the default page", check: "pager", limit: 0, want: want},
		{name: "negative before means from the newest", check: "pager", before: -1, limit: 100, want: want},
		{name: "unknown check", check: "nope", limit: 10, want: []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := s.Results(ctx, tt.check, tt.before, tt.limit)
			if err != nil {
				t.Fatalf("Results: %v", err)
			}
			if got := ids(runs); !slices.Equal(got, tt.want) {
				t.Errorf("Results(%q, %d, %d) ids = %v, want %v", tt.check, tt.before, tt.limit, got, tt.want)
			}
			for _, r := range runs {
				if r.Check != tt.check || r.Kind != "sql" || !r.StartedAt.Equal(base) || r.Duration != time.Second {
					t.Errorf("run %d = %+v, want check %s restored", r.ID, r.Result, tt.check)
				}
			}
		})
	}

	t.Run("walking every page visits every run once", func(t *testing.T) {
		var got []int64
		before := int64(0)
		for pages := 0; ; pages++ {
			if pages > len(want) {
				t.Fatalf("paging does not end: %v", got)
			}
			runs, err := s.Results(ctx, "pager", before, 2)
			if err != nil {
				t.Fatalf("Results: %v", err)
			}
			if len(runs) == 0 {
				break
			}
			got = append(got, ids(runs)...)
			before = runs[len(runs)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged ids = %v, want %v", got, want)
		}
	})
}

func testLatestResults(t *testing.T, s *store.Store) {
	ctx := context.Background()
	got, err := s.LatestResults(ctx)
	if err != nil {
		t.Fatalf("LatestResults on an empty store: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("LatestResults on an empty store = %v, want none", got)
	}
	want := map[string]int64{}
	for i := range 3 {
		for _, c := range []string{"a", "b", "ü"} {
			want[c] = record(t, s, result(c, checks.Fail, fmt.Sprint(i)))
		}
	}
	want["solo"] = record(t, s, result("solo", checks.Error))
	got, err = s.LatestResults(ctx)
	if err != nil {
		t.Fatalf("LatestResults: %v", err)
	}
	gotIDs := map[string]int64{}
	for c, r := range got {
		gotIDs[c] = r.ID
		if r.Check != c {
			t.Errorf("LatestResults[%q].Check = %q", c, r.Check)
		}
	}
	if !reflect.DeepEqual(gotIDs, want) {
		t.Errorf("LatestResults ids = %v, want %v", gotIDs, want)
	}
	if got["solo"].Status != checks.Error {
		t.Errorf("LatestResults[solo].Status = %s, want error", got["solo"].Status)
	}
}

func testRunKeys(t *testing.T, s *store.Store) {
	ctx := context.Background()
	long := strings.Repeat("long-key/", 1200) // ~10 KB: longer than a btree index entry may be
	tests := []struct {
		name string
		keys []string
		want []string
	}{
		{name: "no keys", keys: nil, want: []string{}},
		{name: "sorted byte-wise", keys: []string{"P-1#9", "P-1#10", "b", "B", "a"}, want: []string{"B", "P-1#10", "P-1#9", "a", "b"}},
		{name: "duplicates stored once", keys: []string{"x", "y", "x", "x"}, want: []string{"x", "y"}},
		{name: "unicode and odd characters", keys: []string{"ключ", "鍵", "🔑", "a'b", `a"b`, "a\\b", "?", "$1"}, want: []string{"$1", "?", `a"b`, "a'b", "a\\b", "ключ", "鍵", "🔑"}},
		{name: "a very long key", keys: []string{long, "short"}, want: []string{long, "short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := record(t, s, result("keys-"+tt.name, checks.Fail, tt.keys...))
			got, err := s.RunKeys(ctx, id)
			if err != nil {
				t.Fatalf("RunKeys: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("RunKeys = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("unknown run", func(t *testing.T) {
		if _, err := s.RunKeys(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RunKeys(unknown) error = %v, want ErrNotFound", err)
		}
	})
}

func manyKeys(n int, prefix string) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%06d", prefix, i)
	}
	return keys
}

func testLargeKeySets(t *testing.T, s *store.Store) {
	ctx := context.Background()
	t.Run("MaxKeys keys", func(t *testing.T) {
		keys := manyKeys(checks.MaxKeys, "P-")
		id := record(t, s, result("max", checks.Fail, keys...))
		got, err := s.RunKeys(ctx, id)
		if err != nil {
			t.Fatalf("RunKeys: %v", err)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("RunKeys returned %d keys, want the %d recorded", len(got), len(keys))
		}
		run, err := s.LatestResult(ctx, "max")
		if err != nil {
			t.Fatalf("LatestResult: %v", err)
		}
		if run.KeysTruncated {
			t.Errorf("KeysTruncated = true for exactly MaxKeys keys")
		}
	})
	t.Run("more than MaxKeys keeps the smallest and marks truncation", func(t *testing.T) {
		keys := manyKeys(checks.MaxKeys+5, "Q-")
		slices.Reverse(keys)
		id := record(t, s, result("over", checks.Fail, keys...))
		got, err := s.RunKeys(ctx, id)
		if err != nil {
			t.Fatalf("RunKeys: %v", err)
		}
		if want := manyKeys(checks.MaxKeys, "Q-"); !slices.Equal(got, want) {
			t.Errorf("RunKeys returned %d keys (first %q), want the %d smallest", len(got), got[:1], len(want))
		}
		run, err := s.LatestResult(ctx, "over")
		if err != nil {
			t.Fatalf("LatestResult: %v", err)
		}
		if !run.KeysTruncated {
			t.Errorf("KeysTruncated = false, want true")
		}
	})
}

func testKeyChanges(t *testing.T, open func(t *testing.T) *store.Store) {
	s := open(t)
	ctx := context.Background()
	type run struct {
		keys      []string
		truncated bool
	}
	tests := []struct {
		name string
		runs []run // oldest first; the last one is compared
		want store.KeyChanges
	}{
		{
			name: "first run: every key is new",
			runs: []run{{keys: []string{"b", "a"}}},
			want: store.KeyChanges{New: []string{"a", "b"}, Still: []string{}, Fixed: []string{}, Unknown: []string{}},
		},
		{
			name: "new, still and fixed",
			runs: []run{{keys: []string{"a", "b", "c"}}, {keys: []string{"b", "c", "d", "e"}}},
			want: store.KeyChanges{New: []string{"d", "e"}, Still: []string{"b", "c"}, Fixed: []string{"a"}, Unknown: []string{}},
		},
		{
			name: "compares with the previous run only",
			runs: []run{{keys: []string{"old"}}, {keys: []string{"a"}}, {keys: []string{"a", "b"}}},
			want: store.KeyChanges{New: []string{"b"}, Still: []string{"a"}, Fixed: []string{}, Unknown: []string{}},
		},
		{
			name: "everything fixed",
			runs: []run{{keys: []string{"a", "b"}}, {}},
			want: store.KeyChanges{New: []string{}, Still: []string{}, Fixed: []string{"a", "b"}, Unknown: []string{}},
		},
		{
			name: "both passing",
			runs: []run{{}, {}},
			want: store.KeyChanges{New: []string{}, Still: []string{}, Fixed: []string{}, Unknown: []string{}},
		},
		{
			name: "unicode keys",
			runs: []run{{keys: []string{"鍵/1", "ключ"}}, {keys: []string{"ключ", "🔑"}}},
			want: store.KeyChanges{New: []string{"🔑"}, Still: []string{"ключ"}, Fixed: []string{"鍵/1"}, Unknown: []string{}},
		},
		{
			name: "previous run truncated: keys above its cut-off are unknown",
			runs: []run{{keys: []string{"a", "c"}, truncated: true}, {keys: []string{"b", "c", "d"}}},
			want: store.KeyChanges{New: []string{"b"}, Still: []string{"c"}, Fixed: []string{"a"}, Unknown: []string{"d"}},
		},
		{
			name: "this run truncated: previous keys above its cut-off are not called fixed",
			runs: []run{{keys: []string{"a", "b", "z"}}, {keys: []string{"b", "c"}, truncated: true}},
			want: store.KeyChanges{New: []string{"c"}, Still: []string{"b"}, Fixed: []string{"a"}, Unknown: []string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := "kc-" + strings.ReplaceAll(tt.name, " ", "-")
			var id int64
			for i, r := range tt.runs {
				id = record(t, s, checks.Result{Check: check, Kind: "sql", Status: checks.Fail, Keys: r.keys, KeysTruncated: r.truncated, Violations: len(r.keys)})
				if i == 0 {
					// Another check's run in between must not count as "previous".
					record(t, s, result("kc-noise", checks.Fail, "a", "b", "c", "old"))
				}
			}
			got, err := s.KeyChanges(ctx, id)
			if err != nil {
				t.Fatalf("KeyChanges: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("KeyChanges =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
	t.Run("an older run compares with the one before it", func(t *testing.T) {
		first := record(t, s, result("kc-history", checks.Fail, "a"))
		second := record(t, s, result("kc-history", checks.Fail, "a", "b"))
		record(t, s, result("kc-history", checks.Pass))
		got, err := s.KeyChanges(ctx, second)
		if err != nil {
			t.Fatalf("KeyChanges: %v", err)
		}
		want := store.KeyChanges{New: []string{"b"}, Still: []string{"a"}, Fixed: []string{}, Unknown: []string{}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("KeyChanges(%d) = %+v, want %+v (against run %d)", second, got, want, first)
		}
	})
	t.Run("large key sets", func(t *testing.T) {
		const n = 1500 // several insert batches
		prev := manyKeys(n, "K-")
		cur := append(manyKeys(n, "K-")[500:], "L-1")
		record(t, s, result("kc-large", checks.Fail, prev...))
		id := record(t, s, result("kc-large", checks.Fail, cur...))
		got, err := s.KeyChanges(ctx, id)
		if err != nil {
			t.Fatalf("KeyChanges: %v", err)
		}
		if len(got.New) != 1 || len(got.Still) != n-500 || len(got.Fixed) != 500 || got.Fixed[0] != "K-000000" || got.Fixed[499] != "K-000499" {
			t.Errorf("KeyChanges: %d new, %d still, %d fixed; want 1, %d, 500", len(got.New), len(got.Still), len(got.Fixed), n-500)
		}
	})
	t.Run("unknown run", func(t *testing.T) {
		if _, err := s.KeyChanges(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("KeyChanges(unknown) error = %v, want ErrNotFound", err)
		}
	})
	t.Run("inside the transaction that records the run", func(t *testing.T) {
		record(t, s, result("kc-tx", checks.Fail, "a", "b"))
		var got store.KeyChanges
		inTx(t, s, func(tx *store.Tx) error {
			id, err := tx.RecordResult(ctx, result("kc-tx", checks.Fail, "c", "b"))
			if err != nil {
				return err
			}
			if got, err = tx.KeyChanges(ctx, id); err != nil {
				return err
			}
			if _, err := tx.KeyChanges(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Tx.KeyChanges(unknown) error = %v, want ErrNotFound", err)
			}
			return nil
		})
		want := store.KeyChanges{New: []string{"c"}, Still: []string{"b"}, Fixed: []string{"a"}, Unknown: []string{}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Tx.KeyChanges = %+v, want %+v", got, want)
		}
	})
}

func testAudit(t *testing.T, s *store.Store) {
	ctx := context.Background()
	got, err := s.AuditLog(ctx, 10)
	if err != nil {
		t.Fatalf("AuditLog on an empty store: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("AuditLog on an empty store = %v, want none", got)
	}
	entries := []store.AuditEntry{
		{At: base, Actor: "alice", Action: "redrive", Target: "orders-dlq", Detail: "rate=10 moved=42", Remote: "10.1.2.3"},
		{At: base.Add(time.Minute).In(time.FixedZone("EST", -5*3600)), Actor: "bob", Action: "ack", Target: "missing-endorsements", Remote: "cli"},
		{At: base.Add(2 * time.Minute), Actor: "zoë", Action: "silence", Target: "team:policy", Detail: "until 18:00 — déploiement 🚀"},
	}
	for _, e := range entries {
		if err := s.Audit(ctx, e); err != nil {
			t.Fatalf("Audit(%+v): %v", e, err)
		}
	}
	got, err = s.AuditLog(ctx, 0)
	if err != nil {
		t.Fatalf("AuditLog: %v", err)
	}
	if len(got) != len(entries) {
		t.Fatalf("AuditLog returned %d entries, want %d", len(got), len(entries))
	}
	for i, g := range got {
		want := entries[len(entries)-1-i] // newest first
		if i > 0 && g.ID >= got[i-1].ID {
			t.Errorf("AuditLog ids not newest first: %d after %d", g.ID, got[i-1].ID)
		}
		if !g.At.Equal(want.At) || g.At.Location() != time.UTC {
			t.Errorf("entry %d At = %v, want %v in UTC", i, g.At, want.At)
		}
		g.ID, g.At, want.At = 0, time.Time{}, time.Time{}
		if g != want {
			t.Errorf("entry %d = %+v, want %+v", i, g, want)
		}
	}
	limited, err := s.AuditLog(ctx, 2)
	if err != nil {
		t.Fatalf("AuditLog(2): %v", err)
	}
	if len(limited) != 2 || limited[0].Actor != "zoë" || limited[1].Actor != "bob" {
		t.Errorf("AuditLog(2) = %+v, want the two newest (zoë, bob)", limited)
	}

	t.Run("zero At is the store's clock", func(t *testing.T) {
		before := time.Now()
		if err := s.Audit(ctx, store.AuditEntry{Actor: "carol", Action: "run", Target: "fresh"}); err != nil {
			t.Fatalf("Audit: %v", err)
		}
		after := time.Now()
		got, err := s.AuditLog(ctx, 1)
		if err != nil {
			t.Fatalf("AuditLog: %v", err)
		}
		if len(got) != 1 || got[0].Actor != "carol" || got[0].At.Before(before.Add(-time.Second)) || got[0].At.After(after.Add(time.Second)) {
			t.Errorf("AuditLog(1) = %+v, want carol's entry at about %v", got, before)
		}
	})
	t.Run("actor and action are required", func(t *testing.T) {
		for _, e := range []store.AuditEntry{{Action: "ack"}, {Actor: "dave"}} {
			if err := s.Audit(ctx, e); err == nil {
				t.Errorf("Audit(%+v) = nil, want an error", e)
			}
		}
	})
}

func testConcurrent(t *testing.T, s *store.Store) {
	ctx := context.Background()
	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	runIDs := make([][]int64, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				check := fmt.Sprintf("conc-%d", w)
				keys := []string{fmt.Sprintf("w%d", w), fmt.Sprintf("i%d", i)}
				id, err := s.RecordResult(ctx, checks.Result{Check: check, Kind: "sql", Status: checks.Fail, Violations: 2, Keys: keys})
				if err != nil {
					errs <- err
					return
				}
				runIDs[w] = append(runIDs[w], id)
				if _, err := s.LatestResult(ctx, check); err != nil {
					errs <- fmt.Errorf("LatestResult while writing: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent RecordResult: %v", err)
	}
	seen := map[int64]bool{}
	for w, list := range runIDs {
		runs, err := s.Results(ctx, fmt.Sprintf("conc-%d", w), 0, 100)
		if err != nil {
			t.Fatalf("Results: %v", err)
		}
		if len(runs) != perWorker {
			t.Errorf("check conc-%d has %d runs, want %d", w, len(runs), perWorker)
		}
		for i, id := range list {
			if seen[id] {
				t.Errorf("run id %d returned twice", id)
			}
			seen[id] = true
			keys, err := s.RunKeys(ctx, id)
			if err != nil {
				t.Fatalf("RunKeys(%d): %v", id, err)
			}
			if want := []string{fmt.Sprintf("i%d", i), fmt.Sprintf("w%d", w)}; !slices.Equal(keys, want) {
				t.Errorf("RunKeys(%d) = %q, want %q", id, keys, want)
			}
		}
	}
}

func testCanceled(t *testing.T, s *store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.RecordResult(ctx, result("canceled", checks.Fail, "a")); err == nil {
		t.Errorf("RecordResult with a canceled context = nil error")
	}
	if _, err := s.LatestResult(context.Background(), "canceled"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a canceled RecordResult, LatestResult error = %v, want ErrNotFound", err)
	}
	if _, err := s.Results(ctx, "canceled", 0, 10); err == nil {
		t.Errorf("Results with a canceled context = nil error")
	}
}

func testClose(t *testing.T, s *store.Store) {
	ctx := context.Background()
	record(t, s, result("closing", checks.Pass))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.RecordResult(ctx, result("closing", checks.Pass)); err == nil {
		t.Errorf("RecordResult after Close = nil error")
	}
	if _, err := s.LatestResult(ctx, "closing"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestResult after Close error = %v, want a closed-database error", err)
	}
	if err := s.Audit(ctx, store.AuditEntry{Actor: "a", Action: "b"}); err == nil {
		t.Errorf("Audit after Close = nil error")
	}
}
