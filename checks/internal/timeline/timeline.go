// Package timeline groups timed records by key. Rows stream in, each under
// a key; afterwards each key comes back as its timeline: its records in
// time order, records with equal times in the order they were added.
//
// It is built for checks that read millions of rows: a Set keeps 32 bytes
// per record plus the text of its key and note, in chunks that are never
// copied as they fill and hold no pointers for the collector to follow, and
// it allocates nothing per record.
package timeline

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math"
	"slices"
	"time"
)

// Sizes of the chunks a Set stores records and text in.
const (
	recordChunk = 1 << 15 // records (1 MiB)
	textBits    = 20
	textChunk   = 1 << textBits // bytes
	maxChunks   = 1 << (32 - textBits)
	// bucketBits of a key's hash spread records over buckets before
	// sorting, twice.
	bucketBits = 8
)

// ErrTooBig is returned by Add when a Set is full: 4,294,967,295 records
// or 4 GiB of key and note text.
var ErrTooBig = errors.New("too many rows or too much key text to hold: narrow the query")

// Record is one added row: its time and the caller's tag. Its key and note
// are read through the Set that holds it.
type Record struct {
	hash uint64
	// Sec and Nsec are the record's time in Unix seconds and nanoseconds.
	Sec  int64
	Nsec int32
	seq  uint32
	// Tag is a number the caller attached to the record (a state id, say).
	Tag  int32
	text textRef
}

// Time returns the record's time in UTC.
func (r Record) Time() time.Time { return time.Unix(r.Sec, int64(r.Nsec)).UTC() }

// textRef locates a record's text (its key, then its note, each after its
// length as a uvarint): the chunk in the high 12 bits, the offset in the
// low 20.
type textRef uint32

// Set collects records while rows stream by and then hands back each key's
// timeline. The zero value is not usable; call New.
type Set struct {
	seed    maphash.Seed
	records [][]Record
	n       int
	text    [][]byte
	buckets []uint32
	sink    byte // what eachIn's loads add up to, so that they are kept
}

// New returns an empty Set.
func New() *Set {
	return &Set{seed: maphash.MakeSeed(), buckets: make([]uint32, 1<<bucketBits)}
}

// Add stores one record under key, at the Unix time sec and nsec, with a
// tag and a note (any text the caller wants back, such as a row id). Key and
// note are copied. It returns ErrTooBig when the Set is full.
func (s *Set) Add(key []byte, sec int64, nsec int32, tag int32, note []byte) error {
	if s.n == math.MaxUint32 {
		return ErrTooBig
	}
	ref, err := s.store(key, note)
	if err != nil {
		return err
	}
	if len(s.records) == 0 || len(s.records[len(s.records)-1]) == recordChunk {
		s.records = append(s.records, make([]Record, 0, recordChunk))
	}
	hash := maphash.Bytes(s.seed, key)
	s.buckets[byte(hash>>(64-bucketBits))]++
	chunk := &s.records[len(s.records)-1]
	*chunk = append(*chunk, Record{hash: hash, Sec: sec, Nsec: nsec, seq: uint32(s.n), Tag: tag, text: ref})
	s.n++
	return nil
}

// store appends a record's key and note to the text chunks.
func (s *Set) store(key, note []byte) (textRef, error) {
	need := 2*binary.MaxVarintLen64 + len(key) + len(note)
	if len(s.text) == 0 || cap(s.text[len(s.text)-1])-len(s.text[len(s.text)-1]) < need {
		if len(s.text) == maxChunks {
			return 0, ErrTooBig
		}
		s.text = append(s.text, make([]byte, 0, max(textChunk, need)))
	}
	chunk := &s.text[len(s.text)-1]
	ref := textRef(uint32(len(s.text)-1)<<textBits | uint32(len(*chunk)))
	b := binary.AppendUvarint(*chunk, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(note)))
	*chunk = append(b, note...)
	return ref, nil
}

// Key returns the key a record was added under. The bytes belong to the
// Set: copy them to keep them.
func (s *Set) Key(r Record) []byte {
	b := s.text[r.text>>textBits][r.text&(textChunk-1):]
	n, w := binary.Uvarint(b)
	return b[w : w+int(n)]
}

// Note returns the note a record was added with. The bytes belong to the
// Set: copy them to keep them.
func (s *Set) Note(r Record) []byte {
	b := s.text[r.text>>textBits][r.text&(textChunk-1):]
	n, w := binary.Uvarint(b)
	b = b[w+int(n):]
	n, w = binary.Uvarint(b)
	return b[w : w+int(n)]
}

// Each calls fn with each key's timeline: the key's records ordered by
// time, equal times in the order they were added. Keys come in no
// particular order. The slice fn is given is the Set's own: fn must not
// keep it past the call. Each consumes the records: call it once, after
// the last Add (Key and Note still work afterwards).
func (s *Set) Each(fn func(timeline []Record)) { s.EachWhere(nil, fn) }

// EachWhere is Each for the timelines keep reports true for. keep must
// hold for any time-ordered records that include, in the same order,
// records it holds for ("two of them are within a second of each other"
// qualifies). That lets a Set rule out keys whose hashes collide together,
// without reading their keys. A nil keep keeps every timeline.
func (s *Set) EachWhere(keep func(records []Record) bool, fn func(timeline []Record)) {
	// Spread the records over buckets by the top byte of their hash, then
	// each bucket by the next byte (both passes stay within the caches),
	// and sort what lands together by hash and time.
	all := make([]Record, s.n)
	start := spread(s.buckets, all, func(yield func(Record)) {
		for i, chunk := range s.records {
			for _, r := range chunk {
				yield(r)
			}
			s.records[i] = nil
		}
	}, 0)
	s.records = nil
	var scratch []Record
	var counts [1 << bucketBits]uint32
	for b := range s.buckets {
		bucket := all[start[b]:start[b+1]]
		if len(bucket) == 0 {
			continue
		}
		counts = [1 << bucketBits]uint32{}
		for _, r := range bucket {
			counts[byte(r.hash>>(56-bucketBits))]++
		}
		scratch = slices.Grow(scratch[:0], len(bucket))[:len(bucket)]
		sub := spread(counts[:], scratch, func(yield func(Record)) {
			for _, r := range bucket {
				yield(r)
			}
		}, bucketBits)
		for i := range counts {
			s.eachIn(scratch[sub[i]:sub[i+1]], keep, fn)
		}
	}
}

// spread places records into dst grouped by the byte of their hash that
// starts shift bits from the top, given how many fall in each group, and
// returns where each group starts (and, last, ends).
func spread(counts []uint32, dst []Record, records func(yield func(Record)), shift int) []int {
	start := make([]int, len(counts)+1)
	for b, n := range counts {
		start[b+1] = start[b] + int(n)
	}
	var next [1 << bucketBits]int
	copy(next[:], start)
	records(func(r Record) {
		b := byte(r.hash >> (64 - bucketBits - shift))
		dst[next[b]] = r
		next[b]++
	})
	return start
}

// eachIn does EachWhere's work for records that share their top 16 hash
// bits.
func (s *Set) eachIn(records []Record, keep func([]Record) bool, fn func([]Record)) {
	sortRecords(records)
	if keep == nil && len(records) > 1 {
		// splitKeys will read every record's key: load them all first, in
		// one loop of independent loads whose cache misses overlap, rather
		// than one miss at a time as it compares.
		sink := s.sink
		for i := range records {
			ref := records[i].text
			sink += s.text[ref>>textBits][ref&(textChunk-1)]
		}
		s.sink = sink
	}
	for len(records) > 0 {
		n := 1
		for n < len(records) && records[n].hash == records[0].hash {
			n++
		}
		// Keys that share a hash can only add to what keep looks for, so a
		// run that keep rules out holds no timeline to keep.
		if keep == nil || keep(records[:n]) {
			s.splitKeys(records[:n], keep, fn)
		}
		records = records[n:]
	}
}

// splitKeys calls fn with each key's records of a time-ordered run of
// records whose keys share a hash (almost always one key), which keep
// holds for.
func (s *Set) splitKeys(run []Record, keep func([]Record) bool, fn func([]Record)) {
	if len(run) == 1 {
		fn(run)
		return
	}
	first := s.Key(run[0])
	same := true
	for _, r := range run[1:] {
		if !bytes.Equal(s.Key(r), first) {
			same = false
			break
		}
	}
	if same {
		fn(run)
		return
	}
	slices.SortStableFunc(run, func(a, b Record) int { return bytes.Compare(s.Key(a), s.Key(b)) })
	for len(run) > 0 {
		n := 1
		for n < len(run) && bytes.Equal(s.Key(run[n]), s.Key(run[0])) {
			n++
		}
		if keep == nil || keep(run[:n]) {
			fn(run[:n])
		}
		run = run[n:]
	}
}

// sortRecords orders records by hash, then time, then the order they were
// added.
func sortRecords(records []Record) {
	if len(records) > 32 {
		slices.SortFunc(records, func(a, b Record) int { return compare(&a, &b) })
		return
	}
	for i := 1; i < len(records); i++ {
		r := records[i]
		j := i
		for ; j > 0 && compare(&r, &records[j-1]) < 0; j-- {
			records[j] = records[j-1]
		}
		records[j] = r
	}
}

// compare orders records by hash, then time, then the order they were
// added.
func compare(a, b *Record) int {
	switch {
	case a.hash != b.hash:
		return cmp.Compare(a.hash, b.hash)
	case a.Sec != b.Sec:
		return cmp.Compare(a.Sec, b.Sec)
	case a.Nsec != b.Nsec:
		return cmp.Compare(a.Nsec, b.Nsec)
	}
	return cmp.Compare(a.seq, b.seq)
}
