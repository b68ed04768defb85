package endorsements

import (
	"bytes"
	"hash/maphash"
	"unicode/utf8"

	"github.com/vigilhq/vigil/checks"
)

// idTable interns policy ids: each distinct id gets a dense index (0, 1,
// 2, ...) in the order it was first seen. The ids live back to back in one
// byte arena and the hash table holds only integers, so a million ids cost
// a few tens of megabytes and nothing the garbage collector has to scan.
type idTable struct {
	seed  maphash.Seed
	arena []byte
	ends  []uint32 // ends[i] is where id i ends in arena; it starts at ends[i-1] (or 0)
	slots []uint64 // 0 = empty, else hash<<32 | (index+1)
	mask  uint64
}

// newIDTable returns an empty table with room for about hint ids of
// arenaHint bytes in all before it has to grow.
func newIDTable(hint, arenaHint int) *idTable {
	size := 1024
	for size*3 < hint*4 {
		size *= 2
	}
	return &idTable{
		seed:  maphash.MakeSeed(),
		arena: make([]byte, 0, arenaHint),
		ends:  make([]uint32, 0, hint),
		slots: make([]uint64, size),
		mask:  uint64(size - 1),
	}
}

// ArenaLen is how many bytes the interned ids take.
func (t *idTable) ArenaLen() int { return len(t.arena) }

// Len is the number of ids interned.
func (t *idTable) Len() int { return len(t.ends) }

// ID returns the text of id i.
func (t *idTable) ID(i int32) string {
	start := uint32(0)
	if i > 0 {
		start = t.ends[i-1]
	}
	return string(t.arena[start:t.ends[i]])
}

func (t *idTable) bytesOf(i int32) []byte {
	start := uint32(0)
	if i > 0 {
		start = t.ends[i-1]
	}
	return t.arena[start:t.ends[i]]
}

// Find returns the index of id, or -1.
func (t *idTable) Find(id []byte) int32 {
	h := maphash.Bytes(t.seed, id)
	tag := h >> 32
	for s := h & t.mask; ; s = (s + 1) & t.mask {
		e := t.slots[s]
		if e == 0 {
			return -1
		}
		if e>>32 == tag {
			if i := int32(uint32(e) - 1); bytes.Equal(t.bytesOf(i), id) {
				return i
			}
		}
	}
}

// Intern returns the index of id, adding it when it is new (added reports that).
func (t *idTable) Intern(id string) (index int32, added bool) {
	h := maphash.String(t.seed, id)
	tag := h >> 32
	s := h & t.mask
	for ; ; s = (s + 1) & t.mask {
		e := t.slots[s]
		if e == 0 {
			break
		}
		if e>>32 == tag {
			if i := int32(uint32(e) - 1); string(t.bytesOf(i)) == id {
				return i, false
			}
		}
	}
	index = int32(len(t.ends))
	t.arena = append(t.arena, id...)
	t.ends = append(t.ends, uint32(len(t.arena)))
	t.slots[s] = tag<<32 | uint64(index+1)
	if uint64(len(t.ends))*4 > uint64(len(t.slots))*3 {
		t.grow()
	}
	return index, true
}

// grow doubles the hash table, keeping the load factor at or below three
// quarters (small enough for short probes, dense enough to stay in cache).
func (t *idTable) grow() {
	old := t.slots
	t.slots = make([]uint64, 2*len(old))
	t.mask = uint64(len(t.slots) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := int32(uint32(e) - 1)
		h := maphash.Bytes(t.seed, t.bytesOf(i))
		s := h & t.mask
		for t.slots[s] != 0 {
			s = (s + 1) & t.mask
		}
		t.slots[s] = e
	}
}

// cursorLookahead is how many ids past the last one found a cursor tries
// before it hashes.
const cursorLookahead = 8

// idCursor finds ids for a stream of rows. Rows usually come grouped by
// policy and in the order the policies query returned them, so it first
// tries the id it found last and the few interned right after it, which
// costs a short comparison in memory that is already cached, and only then
// the hash table.
type idCursor struct {
	last  []byte
	index int32
	valid bool
}

// Find returns the index of the id a scanned value holds, compared as its
// text (as checks.Text renders it), or -1. NULL is never found.
func (c *idCursor) Find(t *idTable, v any) int32 {
	switch x := v.(type) {
	case nil:
		return -1
	case string:
		if c.valid && string(c.last) == x {
			return c.index
		}
		c.last = append(c.last[:0], x...)
	case []byte:
		if c.valid && bytes.Equal(c.last, x) {
			return c.index
		}
		if utf8.Valid(x) {
			c.last = append(c.last[:0], x...)
		} else {
			c.last = append(c.last[:0], checks.Text(x)...)
		}
	default:
		c.last = append(c.last[:0], checks.Text(v)...)
	}
	c.valid = true
	if c.index >= 0 {
		n := int32(t.Len())
		for i := c.index + 1; i < n && i <= c.index+cursorLookahead; i++ {
			if bytes.Equal(t.bytesOf(i), c.last) {
				c.index = i
				return i
			}
		}
	}
	c.index = t.Find(c.last)
	return c.index
}
