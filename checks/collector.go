package checks

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"unicode/utf8"
)

// MaxKeyBytes bounds a violation key's length. A longer key (one row's
// data can be any size) is cut by CapKey, so a run never writes more than
// MaxKeyBytes per key into the store.
const MaxKeyBytes = 512

// cutMark ends a key that CapKey cut, before the hash of the whole key.
const cutMark = "…(cut "

// CapKey returns key when it is at most MaxKeyBytes long. A longer key is
// cut on a rune boundary and ends with "…(cut <hash>)", where hash is the
// first 16 hex digits of the SHA-256 of the whole key: the result is at most
// MaxKeyBytes long, says that it was cut, and two different long keys stay
// different.
func CapKey(key string) string {
	if len(key) <= MaxKeyBytes {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	suffix := cutMark + hex.EncodeToString(sum[:8]) + ")"
	n := MaxKeyBytes - len(suffix)
	for n > 0 && !utf8.RuneStart(key[n]) {
		n--
	}
	return key[:n] + suffix
}

// Collector gathers violations as a check streams its input. It keeps the
// full count, the SampleSize smallest keys with their details, and up to
// MaxKeys keys, so memory stays bounded however many rows a check reads.
// Every key is capped by CapKey.
type Collector struct {
	count     int
	sample    violationHeap // max-heap on key: the largest kept key is on top
	keys      keyHeap
	truncated bool
}

// Add records one violation, its key capped by CapKey.
func (c *Collector) Add(v Violation) {
	v.Key = CapKey(v.Key)
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

// Keeps reports whether Add would keep anything of a violation with this
// key: the key among the kept keys, or the violation in the sample. A check
// that finds many violations may build a violation only when Keeps is true,
// and call Skip instead of Add otherwise.
func (c *Collector) Keeps(key []byte) bool {
	if len(key) > MaxKeyBytes {
		return true // its capped form decides, in Add
	}
	return len(c.keys) < MaxKeys || string(key) < c.keys[0] ||
		len(c.sample) < SampleSize || string(key) <= c.sample[0].Key
}

// Skip counts a violation that Keeps said would not be kept.
func (c *Collector) Skip() {
	c.count++
	c.truncated = true
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
