package duplicates

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"time"
)

// Sizes of the chunks a scan stores rows and text in: chunks are never
// copied as they fill, and hold no pointers for the collector to follow.
const (
	rowChunk  = 1 << 15 // rows (1 MiB)
	textChunk = 1 << 20 // bytes
	// bucketBits of a key's hash spread rows over buckets before sorting,
	// twice.
	bucketBits = 8
)

// row is one examined row in 32 bytes: a hash of its key, its write time,
// its position in the query's order and where its key and id sit in the
// text chunks.
type row struct {
	hash uint64
	sec  int64
	nsec int32
	seq  uint32
	text textRef
}

// textRef locates one row's text: the chunk in its high 32 bits, the offset
// in the low ones. The text is the key and then the id, each after its
// length as a uvarint.
type textRef uint64

// scan holds what a run keeps while the rows stream by: 32 bytes per row,
// the key and id text, and a count of rows per hash bucket. Nothing is
// allocated per row.
type scan struct {
	seed    maphash.Seed
	rows    [][]row
	n       int
	text    [][]byte
	buckets []uint32
}

func newScan() *scan {
	return &scan{seed: maphash.MakeSeed(), buckets: make([]uint32, 1<<bucketBits)}
}

// add stores one row.
func (s *scan) add(key, id []byte, sec int64, nsec int32) error {
	if s.n == math.MaxUint32 {
		return fmt.Errorf("more than %d rows: narrow the query", uint32(math.MaxUint32))
	}
	if len(s.rows) == 0 || len(s.rows[len(s.rows)-1]) == rowChunk {
		s.rows = append(s.rows, make([]row, 0, rowChunk))
	}
	hash := maphash.Bytes(s.seed, key)
	s.buckets[byte(hash>>(64-bucketBits))]++
	chunk := &s.rows[len(s.rows)-1]
	*chunk = append(*chunk, row{hash: hash, sec: sec, nsec: nsec, seq: uint32(s.n), text: s.store(key, id)})
	s.n++
	return nil
}

// store appends a row's key and id to the text chunks.
func (s *scan) store(key, id []byte) textRef {
	need := 2*binary.MaxVarintLen64 + len(key) + len(id)
	if len(s.text) == 0 || cap(s.text[len(s.text)-1])-len(s.text[len(s.text)-1]) < need {
		s.text = append(s.text, make([]byte, 0, max(textChunk, need)))
	}
	chunk := &s.text[len(s.text)-1]
	ref := textRef(uint64(len(s.text)-1)<<32 | uint64(len(*chunk)))
	b := binary.AppendUvarint(*chunk, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(id)))
	*chunk = append(b, id...)
	return ref
}

// key returns a row's key text.
func (s *scan) key(r row) []byte {
	k, _ := s.fields(r)
	return k
}

// id returns a row's id text.
func (s *scan) id(r row) []byte {
	_, id := s.fields(r)
	return id
}

func (s *scan) fields(r row) (key, id []byte) {
	b := s.text[r.text>>32][uint32(r.text):]
	n, w := binary.Uvarint(b)
	key, b = b[w:w+int(n)], b[w+int(n):]
	n, w = binary.Uvarint(b)
	return key, b[w : w+int(n)]
}

// eachRace calls fn with the rows of each key that has two rows within
// window of each other, ordered by time with ties in query order. It
// consumes the scan.
func (s *scan) eachRace(window time.Duration, fn func(group []row)) {
	// Spread the rows over buckets by the top byte of their hash, then each
	// bucket by the next byte (both passes stay within the caches), and sort
	// what lands together by hash and time.
	all := make([]row, s.n)
	start := spread(s.buckets, all, func(yield func(row)) {
		for i, chunk := range s.rows {
			for _, r := range chunk {
				yield(r)
			}
			s.rows[i] = nil
		}
	}, 0)
	s.rows = nil
	var scratch []row
	var counts [1 << bucketBits]uint32
	for b := range s.buckets {
		bucket := all[start[b]:start[b+1]]
		if len(bucket) < 2 {
			continue
		}
		counts = [1 << bucketBits]uint32{}
		for _, r := range bucket {
			counts[byte(r.hash>>(56-bucketBits))]++
		}
		scratch = slices.Grow(scratch[:0], len(bucket))[:len(bucket)]
		sub := spread(counts[:], scratch, func(yield func(row)) {
			for _, r := range bucket {
				yield(r)
			}
		}, bucketBits)
		for i := range counts {
			s.eachRaceIn(scratch[sub[i]:sub[i+1]], window, fn)
		}
	}
}

// spread places rows into dst grouped by the byte of their hash that
// starts shift bits from the top, given how many rows fall in each group,
// and returns where each group starts (and, last, ends).
func spread(counts []uint32, dst []row, rows func(yield func(row)), shift int) []int {
	start := make([]int, len(counts)+1)
	for b, n := range counts {
		start[b+1] = start[b] + int(n)
	}
	var next [1 << bucketBits]int
	copy(next[:], start)
	rows(func(r row) {
		b := byte(r.hash >> (64 - bucketBits - shift))
		dst[next[b]] = r
		next[b]++
	})
	return start
}

// eachRaceIn does eachRace's work for rows that share their top 16 hash bits.
func (s *scan) eachRaceIn(rows []row, window time.Duration, fn func(group []row)) {
	if len(rows) < 2 {
		return
	}
	sortRows(rows)
	for len(rows) > 0 {
		n := 1
		for n < len(rows) && rows[n].hash == rows[0].hash {
			n++
		}
		// Rows of keys that share a hash can only add close pairs, so a
		// run without one holds no race and its keys need no reading.
		if n >= 2 && anyClose(rows[:n], window) {
			s.splitKeys(rows[:n], window, fn)
		}
		rows = rows[n:]
	}
}

// splitKeys calls fn with each key's rows of a time-ordered run of rows
// whose keys share a hash (almost always one key).
func (s *scan) splitKeys(run []row, window time.Duration, fn func(group []row)) {
	first := s.key(run[0])
	same := true
	for _, r := range run[1:] {
		if !bytes.Equal(s.key(r), first) {
			same = false
			break
		}
	}
	if !same {
		slices.SortStableFunc(run, func(a, b row) int { return bytes.Compare(s.key(a), s.key(b)) })
	}
	for len(run) > 0 {
		n := 1
		for n < len(run) && bytes.Equal(s.key(run[n]), s.key(run[0])) {
			n++
		}
		if n >= 2 && anyClose(run[:n], window) {
			fn(run[:n])
		}
		run = run[n:]
	}
}

// anyClose reports whether two neighbours of time-ordered rows are within
// window of each other.
func anyClose(rows []row, window time.Duration) bool {
	for i := 1; i < len(rows); i++ {
		if within(rows[i-1], rows[i], window) {
			return true
		}
	}
	return false
}

// within reports whether b, no earlier than a, is within window of it.
func within(a, b row, window time.Duration) bool {
	ds := b.sec - a.sec
	if ds < 0 || ds > int64(window/time.Second)+1 {
		return false
	}
	return time.Duration(ds)*time.Second+time.Duration(b.nsec-a.nsec) <= window
}

// sortRows orders rows by hash, then time, then query order.
func sortRows(rows []row) {
	if len(rows) > 32 {
		slices.SortFunc(rows, func(a, b row) int {
			switch {
			case less(&a, &b):
				return -1
			case less(&b, &a):
				return 1
			}
			return 0
		})
		return
	}
	for i := 1; i < len(rows); i++ {
		r := rows[i]
		j := i
		for ; j > 0 && less(&r, &rows[j-1]); j-- {
			rows[j] = rows[j-1]
		}
		rows[j] = r
	}
}

// less orders rows by hash, then time, then query order.
func less(a, b *row) bool {
	if a.hash != b.hash {
		return a.hash < b.hash
	}
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	return a.seq < b.seq
}
