package checks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCollectorKeepsSmallestKeysByteWise(t *testing.T) {
	var all []Violation
	for i := range 500 {
		all = append(all, Violation{Key: fmt.Sprintf("P-1#%d", i), Detail: fmt.Sprint("d", i)})
	}
	// duplicate keys with different details: the sample must not depend on input order
	all = append(all, Violation{Key: "P-1#10", Detail: "a"}, Violation{Key: "P-1#10", Detail: "z"})
	want := append([]Violation(nil), all...)
	sort.Slice(want, func(i, j int) bool { return violationLess(want[i], want[j]) })
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, seed))
		in := append([]Violation(nil), all...)
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		var c Collector
		for _, v := range in {
			c.Add(v)
		}
		r := c.Result(Fail)
		if r.Violations != len(all) || len(r.Sample) != SampleSize {
			t.Fatalf("count %d sample %d", r.Violations, len(r.Sample))
		}
		for i := range r.Sample {
			if r.Sample[i] != want[i] {
				t.Fatalf("seed %d: sample[%d] = %v, want %v", seed, i, r.Sample[i], want[i])
			}
		}
		if r.Sample[0].Key != "P-1#0" || r.Sample[2].Key != "P-1#10" || r.Sample[2].Detail != "a" {
			t.Fatalf("byte-wise order broken: %v", r.Sample[:4])
		}
		if len(r.Keys) != len(all) || r.KeysTruncated {
			t.Fatalf("keys %d truncated %v", len(r.Keys), r.KeysTruncated)
		}
	}
}

func TestThresholds(t *testing.T) {
	two, five := 2, 5
	tests := []struct {
		name string
		th   Thresholds
		n    int
		want Status
	}{
		{"default: any violation fails", Thresholds{}, 1, Fail},
		{"default: none passes", Thresholds{}, 0, Pass},
		{"warn above", Thresholds{WarnAbove: &two, FailAbove: &five}, 3, Warn},
		{"at warn threshold passes", Thresholds{WarnAbove: &two, FailAbove: &five}, 2, Pass},
		{"at fail threshold warns", Thresholds{WarnAbove: &two, FailAbove: &five}, 5, Warn},
		{"over fail threshold fails", Thresholds{WarnAbove: &two, FailAbove: &five}, 6, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.th.Status(tt.n); got != tt.want {
				t.Errorf("Status(%d) = %s, want %s", tt.n, got, tt.want)
			}
		})
	}
	if ps := (Thresholds{WarnAbove: &five, FailAbove: &two}).Problems(); len(ps) != 1 {
		t.Errorf("warn_above > fail_above: %v", ps)
	}
}

// TestCollectorCapsKeys: a violation key built from one row's data must not
// let that row write an unbounded key into the store every run (issue 12:
// "violation keys are capped, marked as cut"). Long keys are cut on a rune
// boundary (UTF-8, RFC 3629: a cut inside a sequence would store invalid
// text), marked, and keys that differ only past the cut stay different.
func TestCollectorCapsKeys(t *testing.T) {
	long := strings.Repeat("€", 100_000) // 300,000 bytes, 3 bytes a rune
	other := long + "x"
	var c Collector
	c.Add(Violation{Key: long, Detail: "d"})
	c.Add(Violation{Key: other, Detail: "d"})
	c.Add(Violation{Key: "short", Detail: "d"})
	r := c.Result(Fail)
	if r.Violations != 3 || len(r.Keys) != 3 {
		t.Fatalf("%d violations, %d keys; want 3 and 3", r.Violations, len(r.Keys))
	}
	seen := map[string]bool{}
	for _, k := range r.Keys {
		if len(k) > MaxKeyBytes {
			t.Errorf("key of %d bytes kept, want at most %d", len(k), MaxKeyBytes)
		}
		if !utf8.ValidString(k) {
			t.Errorf("key %q is not valid UTF-8: cut inside a rune", k)
		}
		seen[k] = true
	}
	if len(seen) != 3 {
		t.Errorf("two different long keys were capped to the same key: %q", r.Keys)
	}
	for _, v := range r.Sample {
		if v.Key == "short" {
			continue
		}
		if !strings.HasPrefix(v.Key, strings.Repeat("€", 10)) || !strings.Contains(v.Key, "…(cut ") || !strings.HasSuffix(v.Key, ")") {
			t.Errorf("capped key does not keep its start and say it was cut: ...%q", v.Key[len(v.Key)-40:])
		}
	}
	if got := CapKey("P-1/EN-FLOOD-01"); got != "P-1/EN-FLOOD-01" {
		t.Errorf("a short key was changed to %q", got)
	}
	exact := strings.Repeat("a", MaxKeyBytes)
	if got := CapKey(exact); got != exact {
		t.Errorf("a key of exactly MaxKeyBytes was changed")
	}
}

// TestCollectorKeepsAndSkip: a caller that consults Keeps and calls Skip
// when it is false ends with the same result as one that adds everything.
func TestCollectorKeepsAndSkip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var all, lazy Collector
	for range 3 * MaxKeys {
		key := fmt.Sprintf("P-%08d/EN-%02d", rng.IntN(1_000_000), rng.IntN(40))
		v := Violation{Key: key, Detail: "detail of " + key}
		all.Add(v)
		if lazy.Keeps([]byte(key)) {
			lazy.Add(v)
		} else {
			lazy.Skip()
		}
	}
	a, l := all.Result(Fail), lazy.Result(Fail)
	if a.Violations != l.Violations || a.KeysTruncated != l.KeysTruncated || !slices.Equal(a.Keys, l.Keys) || !slices.Equal(a.Sample, l.Sample) {
		t.Errorf("with Keeps/Skip: %d violations, truncated %v, %d keys; with Add: %d, %v, %d; or samples differ",
			l.Violations, l.KeysTruncated, len(l.Keys), a.Violations, a.KeysTruncated, len(a.Keys))
	}
}
