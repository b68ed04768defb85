package checks

import (
	"container/heap"
	"sort"
)

// Collector gathers violations as a check streams its input. It keeps the
// full count, the SampleSize smallest keys with their details, and up to
// MaxKeys keys, so memory stays bounded however many rows a check reads.
type Collector struct {
	count     int
	sample    violationHeap // max-heap on key: the largest kept key is on top
	keys      keyHeap
	truncated bool
}

// Add records one violation.
func (c *Collector) Add(v Violation) {
	c.count++
	if len(c.sample) < SampleSize {
		heap.Push(&c.sample, v)
	} else if violationLess(v, c.sample[0]) {
		c.sample[0] = v
		heap.Fix(&c.sample, 0)
	}
	if len(c.keys) < MaxKeys {
		heap.Push(&c.keys, v.Key)
	} else {
		c.truncated = true
		if v.Key < c.keys[0] {
			c.keys[0] = v.Key
			heap.Fix(&c.keys, 0)
		}
	}
}

// Count is the number of violations added.
func (c *Collector) Count() int { return c.count }

// Result returns a result holding the count, the sample and the keys, with
// its status decided by status(count).
func (c *Collector) Result(status Status) Result {
	sample := make([]Violation, len(c.sample))
	copy(sample, c.sample)
	sort.Slice(sample, func(i, j int) bool { return violationLess(sample[i], sample[j]) })
	keys := make([]string, len(c.keys))
	copy(keys, c.keys)
	sort.Strings(keys)
	return Result{
		Status:        status,
		Violations:    c.count,
		Sample:        sample,
		Keys:          keys,
		KeysTruncated: c.truncated,
	}
}

// violationLess orders violations by key, byte-wise, then by detail, so a
// sample is the same whichever order the rows came in.
func violationLess(a, b Violation) bool {
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	return a.Detail < b.Detail
}

type violationHeap []Violation

func (h violationHeap) Len() int           { return len(h) }
func (h violationHeap) Less(i, j int) bool { return violationLess(h[j], h[i]) }
func (h violationHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *violationHeap) Push(x any)        { *h = append(*h, x.(Violation)) }
func (h *violationHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

type keyHeap []string

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *keyHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
