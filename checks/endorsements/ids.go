package endorsements

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"

	"github.com/vigilhq/vigil/checks"
)

// errTooManyIDs is returned when the interned ids outgrow the arena's
// 32-bit refs (about 4 GiB of entries).
var errTooManyIDs = errors.New("too many distinct policy ids to hold: narrow the queries")

// Sizes of the arena's chunks: a ref is a chunk number in its high 12
// bits and an offset in the low 20.
const (
	chunkBits = 20
	chunkSize = 1 << chunkBits
	maxChunks = 1 << (32 - chunkBits)
)

// idTable interns policy ids: each distinct id gets an entry in a byte
// arena, found by its ref. An entry is the id's length (uvarint), its bytes
// and a fixed number of bytes of the caller's data about the id (zero when
// interned), so the cache line a lookup reads to compare the id usually
// holds what the caller reads or counts next. Entries are never moved: the
// arena grows a chunk at a time, so nothing is copied as it grows and a
// slice of an entry stays valid. The hash table's 8-byte slots hold the
// top 32 bits of an id's hash, which also place the slot, and its ref: a
// lookup reads a slot and an entry, and the table grows without reading
// the arena. A million ids cost a few tens of megabytes and nothing the
// garbage collector has to scan.
type idTable struct {
	seed   maphash.Seed
	chunks [][]byte // chunks[0][0] is padding, so no entry has ref 0
	data   int      // bytes of caller data per entry
	slots  []uint64 // 0 = empty, else hash<<32 | ref
	mask   uint32
	n      int
}

// newIDTable returns an empty table whose entries carry data bytes each,
// with room for about hint ids before its hash table has to grow.
func newIDTable(data, hint int) *idTable {
	size := 1024
	for size*3 < hint*4 {
		size *= 2
	}
	return &idTable{
		seed:   maphash.MakeSeed(),
		chunks: [][]byte{make([]byte, 1, chunkSize)},
		data:   data,
		slots:  make([]uint64, size),
		mask:   uint32(size - 1),
	}
}

// Len is the number of ids interned.
func (t *idTable) Len() int { return t.n }

// hash is the top 32 bits of id's hash: its tag and its home slot.
func (t *idTable) hash(id []byte) uint32 { return uint32(maphash.Bytes(t.seed, id) >> 32) }

// at returns the bytes from ref to the end of its chunk.
func (t *idTable) at(ref uint32) []byte {
	return t.chunks[ref>>chunkBits][ref&(chunkSize-1):]
}

// entry returns the id and the data of the entry at ref. The data may be
// written to.
func (t *idTable) entry(ref uint32) (id, data []byte) {
	b := t.at(ref)
	n, w := uint64(b[0]), 1
	if n >= 0x80 {
		n, w = binary.Uvarint(b)
	}
	end := w + int(n)
	return b[w:end:end], b[end : end+t.data : end+t.data]
}

// ID returns the text of the entry at ref.
func (t *idTable) ID(ref uint32) string {
	id, _ := t.entry(ref)
	return string(id)
}

// each calls fn with every entry in the order the ids were interned.
func (t *idTable) each(fn func(ref uint32, id, data []byte)) {
	for c, chunk := range t.chunks {
		off := 0
		if c == 0 {
			off = 1 // the padding
		}
		for off < len(chunk) {
			ref := uint32(c)<<chunkBits | uint32(off)
			id, data := t.entry(ref)
			fn(ref, id, data)
			off += uvarintLen(uint64(len(id))) + len(id) + len(data)
		}
	}
}

// find returns the ref of id, whose hash is h, or 0 when it is not interned.
func (t *idTable) find(h uint32, id []byte) uint32 {
	for s := h & t.mask; ; s = (s + 1) & t.mask {
		e := t.slots[s]
		if e == 0 {
			return 0
		}
		if uint32(e>>32) == h {
			if got, _ := t.entry(uint32(e)); bytes.Equal(got, id) {
				return uint32(e)
			}
		}
	}
}

// intern returns the ref of id, whose hash is h, adding it when it is new
// (added reports that). It fails only when the arena is full.
func (t *idTable) intern(h uint32, id []byte) (ref uint32, added bool, err error) {
	s := h & t.mask
	for ; ; s = (s + 1) & t.mask {
		e := t.slots[s]
		if e == 0 {
			break
		}
		if uint32(e>>32) == h {
			if got, _ := t.entry(uint32(e)); bytes.Equal(got, id) {
				return uint32(e), false, nil
			}
		}
	}
	if ref, err = t.add(id); err != nil {
		return 0, false, err
	}
	t.n++
	t.slots[s] = uint64(h)<<32 | uint64(ref)
	if uint64(t.n)*4 > uint64(len(t.slots))*3 {
		t.grow()
	}
	return ref, true, nil
}

// add appends an entry for id, its data zero, starting a chunk when the
// last one has no room for it (an entry longer than a chunk gets a chunk of
// its own).
func (t *idTable) add(id []byte) (uint32, error) {
	size := uvarintLen(uint64(len(id))) + len(id) + t.data
	last := &t.chunks[len(t.chunks)-1]
	if cap(*last)-len(*last) < size {
		if len(t.chunks) == maxChunks {
			return 0, errTooManyIDs
		}
		t.chunks = append(t.chunks, make([]byte, 0, max(chunkSize, size)))
		last = &t.chunks[len(t.chunks)-1]
	}
	ref := uint32(len(t.chunks)-1)<<chunkBits | uint32(len(*last))
	b := binary.AppendUvarint(*last, uint64(len(id)))
	b = append(b, id...)
	// A chunk is zeroed when made and never shrinks: the data is zero.
	*last = b[:len(b)+t.data]
	return ref, nil
}

// uvarintLen is how many bytes binary.AppendUvarint writes for x.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// grow doubles the hash table, keeping the load factor at or below three
// quarters (small enough for short probes). A slot's tag is its home, so
// nothing is hashed or read from the arena again.
func (t *idTable) grow() {
	old := t.slots
	t.slots = make([]uint64, 2*len(old))
	t.mask = uint32(len(t.slots) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		s := uint32(e>>32) & t.mask
		for t.slots[s] != 0 {
			s = (s + 1) & t.mask
		}
		t.slots[s] = e
	}
}

// batchSize is how many rows' ids are looked up together.
const batchSize = 256

// idBatch holds the ids of up to batchSize rows so that they are looked up
// together, in stages: all hashes, then all first slots, then all entries
// those slots point at. The loads of one stage do not depend on each other,
// so the processor overlaps their cache misses instead of waiting for each
// in turn, as a row-at-a-time lookup on rows in random order must.
type idBatch struct {
	text  []byte
	start [batchSize]int32 // id k is text[start[k]:end[k]]
	end   [batchSize]int32
	same  [batchSize]bool // id k is id k-1
	hash  [batchSize]uint32
	ref   [batchSize]uint32
	n     int
	sink  uint64
}

// add appends the id a scanned value holds, as its text (as checks.Text
// renders it). The value must not be NULL.
func (b *idBatch) add(v any) {
	k, start := b.n, int32(len(b.text))
	b.text = checks.AppendText(b.text, v)
	b.same[k] = k > 0 && bytes.Equal(b.text[start:], b.id(k-1))
	if b.same[k] {
		b.text = b.text[:start]
		b.start[k], b.end[k] = b.start[k-1], b.end[k-1]
	} else {
		b.start[k], b.end[k] = start, int32(len(b.text))
	}
	b.n++
}

// id returns the text of id k.
func (b *idBatch) id(k int) []byte { return b.text[b.start[k]:b.end[k]] }

// reset empties the batch.
func (b *idBatch) reset() {
	b.text = b.text[:0]
	b.n = 0
}

// prepare hashes the batch's ids and loads the slots, and the entries, that
// their lookups in t read first.
func (b *idBatch) prepare(t *idTable) {
	for k := range b.n {
		if b.same[k] {
			b.hash[k] = b.hash[k-1]
		} else {
			b.hash[k] = t.hash(b.id(k))
		}
	}
	sink := b.sink
	for k := range b.n {
		sink += t.slots[b.hash[k]&t.mask]
	}
	for k := range b.n {
		if e := t.slots[b.hash[k]&t.mask]; uint32(e>>32) == b.hash[k] {
			sink += uint64(t.at(uint32(e))[0])
		}
	}
	b.sink = sink
}

// find sets ref[k] to the ref of every id k in t, 0 for an id t does not
// hold.
func (b *idBatch) find(t *idTable) {
	b.prepare(t)
	for k := range b.n {
		if b.same[k] {
			b.ref[k] = b.ref[k-1]
		} else {
			b.ref[k] = t.find(b.hash[k], b.id(k))
		}
	}
}
