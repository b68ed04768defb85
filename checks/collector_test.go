package checks

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
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
