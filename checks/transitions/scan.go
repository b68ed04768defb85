package transitions

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math"
	"slices"
)

// Sizes of the chunks a scan stores events and text in: chunks are never
// copied as they fill, and hold no pointers for the collector to follow.
const (
	eventChunk = 1 << 15 // events (1 MiB)
	textBits   = 20
	textChunk  = 1 << textBits // bytes
	maxChunks  = 1 << (32 - textBits)
	// bucketBits of an entity's hash spread events over buckets before
	// sorting, twice.
	bucketBits = 8
)

// event is one row in 32 bytes: a hash of its entity, its time, its
// position in the query's order, its state and where its entity's text
// sits.
type event struct {
	hash   uint64
	sec    int64
	nsec   int32
	seq    uint32
	state  int32
	entity textRef
}

// textRef locates an entity's text (after its length as a uvarint): the
// chunk in the high 12 bits, the offset in the low 20.
type textRef uint32

// scan holds what a run keeps while the rows stream by: 32 bytes per
// event, the entity text, the state names once each, and a count of events
// per hash bucket. Nothing is allocated per row.
type scan struct {
	seed       maphash.Seed
	events     [][]event
	n          int
	text       [][]byte
	buckets    []uint32
	states     map[string]int32
	stateNames []string
}

func newScan(m *machine) *scan {
	s := &scan{
		seed:       maphash.MakeSeed(),
		buckets:    make([]uint32, 1<<bucketBits),
		states:     make(map[string]int32, len(m.names)),
		stateNames: slices.Clone(m.names),
	}
	for i, name := range m.names {
		s.states[name] = int32(i)
	}
	return s
}

var errTooBig = errors.New("too many events or entity names: narrow the query")

// add stores one event.
func (s *scan) add(entity, state []byte, sec int64, nsec int32) error {
	if s.n == math.MaxUint32 {
		return errTooBig
	}
	if len(s.events) == 0 || len(s.events[len(s.events)-1]) == eventChunk {
		s.events = append(s.events, make([]event, 0, eventChunk))
	}
	st, ok := s.states[string(state)]
	if !ok {
		st = int32(len(s.stateNames))
		name := string(state)
		s.states[name] = st
		s.stateNames = append(s.stateNames, name)
	}
	ref, err := s.store(entity)
	if err != nil {
		return err
	}
	hash := maphash.Bytes(s.seed, entity)
	s.buckets[byte(hash>>(64-bucketBits))]++
	chunk := &s.events[len(s.events)-1]
	*chunk = append(*chunk, event{hash: hash, sec: sec, nsec: nsec, seq: uint32(s.n), state: st, entity: ref})
	s.n++
	return nil
}

// store appends an entity's text to the text chunks.
func (s *scan) store(entity []byte) (textRef, error) {
	need := binary.MaxVarintLen64 + len(entity)
	if len(s.text) == 0 || cap(s.text[len(s.text)-1])-len(s.text[len(s.text)-1]) < need {
		if len(s.text) == maxChunks {
			return 0, errTooBig
		}
		s.text = append(s.text, make([]byte, 0, max(textChunk, need)))
	}
	chunk := &s.text[len(s.text)-1]
	ref := textRef(uint32(len(s.text)-1)<<textBits | uint32(len(*chunk)))
	b := binary.AppendUvarint(*chunk, uint64(len(entity)))
	*chunk = append(b, entity...)
	return ref, nil
}

// entity returns an event's entity text.
func (s *scan) entity(e event) []byte {
	b := s.text[e.entity>>textBits][e.entity&(textChunk-1):]
	n, w := binary.Uvarint(b)
	return b[w : w+int(n)]
}

// eachEntity calls fn with each entity's events ordered by time, ties in
// query order. It consumes the scan.
func (s *scan) eachEntity(fn func(events []event)) {
	// Spread the events over buckets by the top byte of their hash, then
	// each bucket by the next byte (both passes stay within the caches), and
	// sort what lands together by hash and time.
	all := make([]event, s.n)
	start := spread(s.buckets, all, func(yield func(event)) {
		for i, chunk := range s.events {
			for _, e := range chunk {
				yield(e)
			}
			s.events[i] = nil
		}
	}, 0)
	s.events = nil
	var scratch []event
	var counts [1 << bucketBits]uint32
	for b := range s.buckets {
		bucket := all[start[b]:start[b+1]]
		counts = [1 << bucketBits]uint32{}
		for _, e := range bucket {
			counts[byte(e.hash>>(56-bucketBits))]++
		}
		scratch = slices.Grow(scratch[:0], len(bucket))[:len(bucket)]
		sub := spread(counts[:], scratch, func(yield func(event)) {
			for _, e := range bucket {
				yield(e)
			}
		}, bucketBits)
		for i := range counts {
			s.eachEntityIn(scratch[sub[i]:sub[i+1]], fn)
		}
	}
}

// spread places events into dst grouped by the byte of their hash that
// starts shift bits from the top, given how many fall in each group, and
// returns where each group starts (and, last, ends).
func spread(counts []uint32, dst []event, events func(yield func(event)), shift int) []int {
	start := make([]int, len(counts)+1)
	for b, n := range counts {
		start[b+1] = start[b] + int(n)
	}
	var next [1 << bucketBits]int
	copy(next[:], start)
	events(func(e event) {
		b := byte(e.hash >> (64 - bucketBits - shift))
		dst[next[b]] = e
		next[b]++
	})
	return start
}

// eachEntityIn does eachEntity's work for events that share their top 16
// hash bits.
func (s *scan) eachEntityIn(events []event, fn func(events []event)) {
	sortEvents(events)
	for len(events) > 0 {
		n := 1
		for n < len(events) && events[n].hash == events[0].hash {
			n++
		}
		s.splitEntities(events[:n], fn)
		events = events[n:]
	}
}

// splitEntities calls fn with each entity's events of a time-ordered run
// of events whose entities share a hash (almost always one entity).
func (s *scan) splitEntities(run []event, fn func(events []event)) {
	if len(run) == 1 {
		fn(run)
		return
	}
	first := s.entity(run[0])
	same := true
	for _, e := range run[1:] {
		if !bytes.Equal(s.entity(e), first) {
			same = false
			break
		}
	}
	if same {
		fn(run)
		return
	}
	slices.SortStableFunc(run, func(a, b event) int { return bytes.Compare(s.entity(a), s.entity(b)) })
	for len(run) > 0 {
		n := 1
		for n < len(run) && bytes.Equal(s.entity(run[n]), s.entity(run[0])) {
			n++
		}
		fn(run[:n])
		run = run[n:]
	}
}

// sortEvents orders events by hash, then time, then query order.
func sortEvents(events []event) {
	if len(events) > 32 {
		slices.SortFunc(events, func(a, b event) int {
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
	for i := 1; i < len(events); i++ {
		e := events[i]
		j := i
		for ; j > 0 && less(&e, &events[j-1]); j-- {
			events[j] = events[j-1]
		}
		events[j] = e
	}
}

// less orders events by hash, then time, then query order.
func less(a, b *event) bool {
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
