package timeline

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"unsafe"
)

// entry is one record as a test adds it.
type entry struct {
	key  string
	sec  int64
	nsec int32
	tag  int32
	note string
}

// closeWithin is a keep that holds when two neighbouring records are at
// most d seconds apart (the duplicates kind's kind of filter).
func closeWithin(d int64) func([]Record) bool {
	return func(rs []Record) bool {
		for i := 1; i < len(rs); i++ {
			if ns := (rs[i].Sec-rs[i-1].Sec)*1e9 + int64(rs[i].Nsec-rs[i-1].Nsec); ns <= d*1e9 {
				return true
			}
		}
		return false
	}
}

// fill adds entries to a new Set.
func fill(t testing.TB, entries []entry) *Set {
	t.Helper()
	s := New()
	for _, e := range entries {
		if err := s.Add([]byte(e.key), e.sec, e.nsec, e.tag, []byte(e.note)); err != nil {
			t.Fatalf("Add(%q): %v", e.key, err)
		}
	}
	return s
}

// records returns every record of s, in the order they were added.
func records(s *Set) []Record {
	var all []Record
	for _, b := range s.buckets {
		for _, chunk := range b.chunks {
			all = append(all, chunk...)
		}
	}
	slices.SortFunc(all, func(a, b Record) int { return int(a.text) - int(b.text) }) // text grows as records are added
	return all
}

// collide rewrites every record's hash with to(hash), as colliding keys
// would have them, and puts each in the bucket of its new hash.
func collide(s *Set, to func(uint64) uint64) {
	all := records(s)
	s.buckets = [1 << addBits]bucket{}
	for _, r := range all {
		r.hash = to(r.hash)
		s.put(r)
	}
}

// timelines runs EachWhere and renders each timeline as
// "key: tag@sec.nsec/note ...", sorted by key.
func timelines(s *Set, keep func([]Record) bool) []string {
	var got []string
	s.EachWhere(keep, func(tl []Record) {
		key := s.Key(tl[0])
		parts := []string{string(key) + ":"}
		for _, r := range tl {
			if !bytes.Equal(s.Key(r), key) {
				parts = append(parts, "WRONG KEY "+string(s.Key(r)))
			}
			parts = append(parts, fmt.Sprintf("%d@%d.%09d/%s", s.Tag(r), r.Sec, r.Nsec, s.Note(r)))
		}
		got = append(got, strings.Join(parts, " "))
	})
	sort.Strings(got)
	return got
}

// model computes what timelines must return, the plain way: group by key,
// order each group stably by time, keep what keep holds for.
func model(t testing.TB, entries []entry, keep func([]Record) bool) []string {
	t.Helper()
	byKey := map[string][]entry{}
	for _, e := range entries {
		byKey[e.key] = append(byKey[e.key], e)
	}
	var want []string
	for key, es := range byKey {
		sort.SliceStable(es, func(i, j int) bool {
			return es[i].sec < es[j].sec || (es[i].sec == es[j].sec && es[i].nsec < es[j].nsec)
		})
		rs := make([]Record, len(es))
		parts := []string{key + ":"}
		for i, e := range es {
			rs[i] = Record{Sec: e.sec, Nsec: e.nsec}
			parts = append(parts, fmt.Sprintf("%d@%d.%09d/%s", e.tag, e.sec, e.nsec, e.note))
		}
		if keep == nil || keep(rs) {
			want = append(want, strings.Join(parts, " "))
		}
	}
	sort.Strings(want)
	return want
}

// TestEachSharedHash forces every key onto one hash, as a collision would,
// and expects each key's timeline on its own.
func TestEachSharedHash(t *testing.T) {
	cases := []struct {
		name    string
		entries []entry
		keep    func([]Record) bool
		want    []string
	}{
		{
			name: "every timeline",
			entries: []entry{
				{key: "A", sec: 0, tag: 1, note: "pending"}, {key: "B", sec: 5, tag: 2, note: "paid"},
				{key: "A", sec: 10, tag: 2, note: "paid"}, {key: "C", sec: 5, tag: 3, note: "shipped"},
				{key: "C", sec: 5, tag: 1, note: "pending"},
			},
			want: []string{
				"A: 1@0.000000000/pending 2@10.000000000/paid",
				"B: 2@5.000000000/paid",
				"C: 3@5.000000000/shipped 1@5.000000000/pending",
			},
		},
		{
			name: "only timelines keep holds for",
			entries: []entry{
				{key: "A", sec: 0, note: "a1"}, {key: "B", sec: 1, note: "b1"}, {key: "C", sec: 100, note: "c1"},
				{key: "A", sec: 10, note: "a2"}, {key: "C", sec: 101, note: "c2"}, {key: "D", sec: 1000, note: "d1"},
			},
			keep: closeWithin(2),
			want: []string{"C: 0@100.000000000/c1 0@101.000000000/c2"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := fill(t, tc.entries)
			collide(s, func(uint64) uint64 { return 42 << 56 })
			if got := timelines(s, tc.keep); !slices.Equal(got, tc.want) {
				t.Errorf("timelines:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestEachMatchesModel adds random records and expects the timelines a
// plain group-and-sort computes, with and without colliding hashes.
func TestEachMatchesModel(t *testing.T) {
	cases := []struct {
		name    string
		n       int
		keys    int
		seconds int64
		keep    func([]Record) bool
		collide func(uint64) uint64
	}{
		{name: "many keys", n: 20_000, keys: 5_000, seconds: 1_000},
		{name: "few keys, many equal times", n: 5_000, keys: 7, seconds: 3},
		{name: "one key", n: 3_000, keys: 1, seconds: 100},
		{name: "keep close records", n: 20_000, keys: 5_000, seconds: 100_000, keep: closeWithin(1)},
		{name: "hashes collide in fours", n: 10_000, keys: 2_000, seconds: 50, collide: func(h uint64) uint64 { return h &^ 3 }},
		{name: "colliding keys, keep close records", n: 10_000, keys: 2_000, seconds: 20_000, keep: closeWithin(2),
			collide: func(h uint64) uint64 { return h & (0xff << 56) }},
		{name: "no records", n: 0, keys: 1, seconds: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.keys)))
			entries := make([]entry, tc.n)
			for i := range entries {
				entries[i] = entry{
					key:  fmt.Sprintf("K-%d", rng.IntN(tc.keys)),
					sec:  rng.Int64N(tc.seconds) - tc.seconds/2,
					nsec: int32(rng.IntN(2)) * 5e8,
					tag:  int32(rng.IntN(5)),
					note: fmt.Sprint(i),
				}
			}
			s := fill(t, entries)
			if tc.collide != nil {
				collide(s, tc.collide)
			}
			got, want := timelines(s, tc.keep), model(t, entries, tc.keep)
			if len(got) != len(want) {
				t.Fatalf("%d timelines, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("timeline %d:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
		})
	}
}

// TestKeyAndNote reads back keys and notes of every size, a key larger
// than a text chunk included.
func TestKeyAndNote(t *testing.T) {
	big := strings.Repeat("k", textChunk+10)
	cases := []struct {
		name      string
		key, note string
	}{
		{name: "empty", key: "", note: ""},
		{name: "no note", key: "O-1", note: ""},
		{name: "unicode", key: "東京|ключ", note: "id 7"},
		{name: "key larger than a chunk", key: big, note: "n"},
		{name: "note larger than a chunk", key: "k", note: big},
	}
	s := New()
	for i, tc := range cases {
		if err := s.Add([]byte(tc.key), int64(i), 0, int32(i)-2, []byte(tc.note)); err != nil { // some tags negative
			t.Fatalf("Add(%s): %v", tc.name, err)
		}
	}
	all := records(s)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := all[i]
			if got := string(s.Key(r)); got != tc.key {
				t.Errorf("key of %d bytes, want %d", len(got), len(tc.key))
			}
			if got := string(s.Note(r)); got != tc.note {
				t.Errorf("note of %d bytes, want %d", len(got), len(tc.note))
			}
			if s.Tag(r) != int32(i)-2 || r.Sec != int64(i) {
				t.Errorf("tag %d at %d, want %d at %d", s.Tag(r), r.Sec, i-2, i)
			}
		})
	}
}

// TestRecordSize guards the memory bound: a record is 24 bytes, so a
// million rows hold 24 MiB of records (and their text).
func TestRecordSize(t *testing.T) {
	if got := unsafe.Sizeof(Record{}); got != 24 {
		t.Errorf("a record is %d bytes, want 24", got)
	}
}

// BenchmarkEach adds a million records of 200,000 keys, five each in
// random order, and walks their timelines: the work a duplicates or
// transitions check does besides reading rows.
func BenchmarkEach(b *testing.B) {
	const keys, perKey = 200_000, 5
	rng := rand.New(rand.NewPCG(5, 6))
	order := rng.Perm(keys * perKey)
	names := make([][]byte, keys)
	for i := range names {
		names[i] = fmt.Appendf(nil, "O-%06d", i)
	}
	for b.Loop() {
		s := New()
		for _, i := range order {
			if err := s.Add(names[i/perKey], int64(i%perKey)*60, 0, int32(i%perKey), nil); err != nil {
				b.Fatal(err)
			}
		}
		n := 0
		s.Each(func(tl []Record) { n += len(tl) })
		if n != keys*perKey {
			b.Fatalf("walked %d records, want %d", n, keys*perKey)
		}
	}
}
