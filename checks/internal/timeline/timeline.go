// Package timeline groups timed records by key. Rows stream in, each under
// a key; afterwards each key comes back as its timeline: its records in
// time order, records with equal times in the order they were added.
//
// It is built for checks that read millions of rows: a Set keeps 24 bytes
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
	// A bucket's chunks of records start small (a Set of a few rows
	// stays small) and double up to maxRecordChunk records (128 KiB).
	minRecordChunk = 16
	maxRecordChunk = 1 << 12
	textBits       = 20
	textChunk      = 1 << textBits // bytes
	maxChunks      = 1 << (32 - textBits)
	// addBits of a key's hash place a record in its bucket as it is added:
	// few enough buckets for the processor to keep appending to all of
	// them at once. The next 2*spreadBits spread a bucket, twice, before
	// sorting.
	addBits    = 4
	spreadBits = 8
)

// ErrTooBig is returned by Add when a Set is full: 4,294,967,295 records
// or 4 GiB of key and note text.
var ErrTooBig = errors.New("too many rows or too much key text to hold: narrow the query")

// Record is one added row: its time. Its key, note and tag are read
// through the Set that holds it.
type Record struct {
	hash uint64
	// Sec and Nsec are the record's time in Unix seconds and nanoseconds.
	Sec  int64
	Nsec int32
	// text also orders records added at equal times: a record added later
	// has its text later.
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
	buckets [1 << addBits]bucket // by the top addBits of a record's hash
	n       int
	text    [][]byte
	sink    byte // what eachIn's loads add up to, so that they are kept
}

// bucket holds the records whose hashes share their top addBits, in the
// order they were added, and counts them by their next spreadBits.
type bucket struct {
	chunks [][]Record
	n      int
	counts [1 << spreadBits]uint32
}

// New returns an empty Set.
func New() *Set {
	return &Set{seed: maphash.MakeSeed()}
}

// Add stores one record under key, at the Unix time sec and nsec, with a
// tag and a note (any text the caller wants back, such as a row id). Key and
// note are copied. It returns ErrTooBig when the Set is full.
func (s *Set) Add(key []byte, sec int64, nsec int32, tag int32, note []byte) error {
	if s.n == math.MaxUint32 {
		return ErrTooBig
	}
	ref, err := s.store(key, note, tag)
	if err != nil {
		return err
	}
	s.put(Record{hash: maphash.Bytes(s.seed, key), Sec: sec, Nsec: nsec, text: ref})
	s.n++
	return nil
}

// put appends a record to its bucket.
func (s *Set) put(r Record) {
	b := &s.buckets[r.hash>>(64-addBits)]
	b.counts[group(r.hash, addBits)]++
	b.n++
	if last := len(b.chunks) - 1; last >= 0 && len(b.chunks[last]) < cap(b.chunks[last]) {
		b.chunks[last] = append(b.chunks[last], r)
		return
	}
	size := minRecordChunk
	if last := len(b.chunks) - 1; last >= 0 {
		size = min(2*cap(b.chunks[last]), maxRecordChunk)
	}
	b.chunks = append(b.chunks, append(make([]Record, 0, size), r))
}

// store appends a record's key, note and tag to the text chunks.
func (s *Set) store(key, note []byte, tag int32) (textRef, error) {
	need := 3*binary.MaxVarintLen64 + len(key) + len(note)
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
	b = append(b, note...)
	*chunk = binary.AppendVarint(b, int64(tag))
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
	note, _ := s.noteAndTag(r)
	return note
}

// Tag returns the number the caller attached to a record (a state id,
// say).
func (s *Set) Tag(r Record) int32 {
	_, tag := s.noteAndTag(r)
	return tag
}

func (s *Set) noteAndTag(r Record) ([]byte, int32) {
	b := s.text[r.text>>textBits][r.text&(textChunk-1):]
	n, w := binary.Uvarint(b)
	b = b[w+int(n):]
	n, w = binary.Uvarint(b)
	note := b[w : w+int(n)]
	tag, _ := binary.Varint(b[w+int(n):])
	return note, int32(tag)
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
	// Each bucket is spread by the next spreadBits of the hash into scratch
	// space the size of the bucket, each part of that by the next
	// spreadBits into more, and what lands together (a handful of records
	// that share their top addBits+2*spreadBits hash bits) is sorted by
	// hash and time. Both spreads stay within the caches, and a bucket's
	// chunks are let go once it is spread, so the records are never held
	// twice over.
	var outer, inner []Record
	for b := range s.buckets {
		bk := &s.buckets[b]
		if bk.n == 0 {
			continue
		}
		outer = slices.Grow(outer[:0], bk.n)[:bk.n]
		next := starts(&bk.counts)
		for _, chunk := range bk.chunks {
			place(outer, &next, chunk, addBits)
		}
		*bk = bucket{}
		start := 0
		for _, end := range next {
			part := outer[start:end]
			start = end
			var counts [1 << spreadBits]uint32
			for i := range part {
				counts[group(part[i].hash, addBits+spreadBits)]++
			}
			inner = slices.Grow(inner[:0], len(part))[:len(part)]
			at := starts(&counts)
			place(inner, &at, part, addBits+spreadBits)
			from := 0
			for _, to := range at {
				s.eachIn(inner[from:to], keep, fn)
				from = to
			}
		}
	}
}

// group is the spreadBits of a hash that come after its top shift bits.
func group(hash uint64, shift int) byte { return byte(hash >> (64 - shift - spreadBits)) }

// starts returns where each group of a spread starts, given how many
// records fall in each.
func starts(counts *[1 << spreadBits]uint32) [1 << spreadBits]int {
	var at [1 << spreadBits]int
	sum := 0
	for g, n := range counts {
		at[g] = sum
		sum += int(n)
	}
	return at
}

// place puts records into dst by their group after the top shift bits of
// their hash, each at at[group], which it advances: after the last record
// of a spread, at[g] is where group g ends.
func place(dst []Record, at *[1 << spreadBits]int, records []Record, shift int) {
	for i := range records {
		g := group(records[i].hash, shift)
		dst[at[g]] = records[i]
		at[g]++
	}
}

// eachIn does EachWhere's work for records that share their top
// addBits+2*spreadBits hash bits.
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
	return cmp.Compare(a.text, b.text)
}
