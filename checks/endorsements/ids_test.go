package endorsements

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// intern interns id in t, failing the test on an error.
func intern(t *testing.T, ids *idTable, id string) (uint32, bool) {
	t.Helper()
	ref, added, err := ids.intern(ids.hash([]byte(id)), []byte(id))
	if err != nil {
		t.Fatal(err)
	}
	return ref, added
}

func TestIDTableInternAndFind(t *testing.T) {
	for _, hint := range []int{0, 5000} {
		t.Run(fmt.Sprintf("hint %d", hint), func(t *testing.T) {
			ids := newIDTable(3, hint)
			const n = 5000 // several doublings from the smallest table
			refs := make([]uint32, n)
			for i := range n {
				id := fmt.Sprintf("P-%d", i)
				ref, added := intern(t, ids, id)
				if !added {
					t.Fatalf("intern(%q) = %d, not added", id, ref)
				}
				_, data := ids.entry(ref)
				if !bytes.Equal(data, []byte{0, 0, 0}) {
					t.Fatalf("a new entry's data is %v, want zeros", data)
				}
				data[0], data[2] = byte(i), byte(i>>8) // data is the caller's to write
				refs[i] = ref
			}
			for i := range n {
				id := fmt.Sprintf("P-%d", i)
				if ref, added := intern(t, ids, id); ref != refs[i] || added {
					t.Fatalf("intern(%q) again = %d, %v; want %d, false", id, ref, added, refs[i])
				}
				if got := ids.find(ids.hash([]byte(id)), []byte(id)); got != refs[i] {
					t.Fatalf("find(%q) = %d, want %d", id, got, refs[i])
				}
				if got := ids.ID(refs[i]); got != id {
					t.Fatalf("ID(%d) = %q, want %q", refs[i], got, id)
				}
			}
			if got := ids.find(ids.hash([]byte("P-5000")), []byte("P-5000")); got != 0 {
				t.Fatalf("find of a missing id = %d, want 0", got)
			}
			if ids.Len() != n {
				t.Fatalf("Len = %d, want %d", ids.Len(), n)
			}
			// The entries come back in the order interned, with their data.
			i := 0
			ids.each(func(ref uint32, id, data []byte) {
				want := fmt.Sprintf("P-%d", i)
				if ref != refs[i] || string(id) != want || !bytes.Equal(data, []byte{byte(i), 0, byte(i >> 8)}) {
					t.Fatalf("entry %d is %d %q %v, want %d %q", i, ref, id, data, refs[i], want)
				}
				i++
			})
			if i != n {
				t.Fatalf("each gave %d entries, want %d", i, n)
			}
		})
	}
}

// TestIDTableChunks fills several arena chunks, with an id longer than a
// chunk among them: every entry keeps its text and data, none straddles a
// chunk, and each walks them all in order.
func TestIDTableChunks(t *testing.T) {
	ids := newIDTable(8, 0)
	var want []string
	for i := range 3 * chunkSize / 20 {
		want = append(want, fmt.Sprintf("policy-%010d", i))
		if i == chunkSize/20 {
			want = append(want, strings.Repeat("L", chunkSize+10))
		}
	}
	refs := make([]uint32, len(want))
	for i, id := range want {
		refs[i], _ = intern(t, ids, id)
		_, data := ids.entry(refs[i])
		binary.LittleEndian.PutUint64(data, uint64(i))
	}
	if len(ids.chunks) < 4 {
		t.Fatalf("%d chunks, want the ids to fill at least 4", len(ids.chunks))
	}
	i := 0
	ids.each(func(ref uint32, id, data []byte) {
		if ref != refs[i] || string(id) != want[i] || binary.LittleEndian.Uint64(data) != uint64(i) {
			t.Fatalf("entry %d: ref %d, %d bytes of id, data %v; want ref %d, %d bytes", i, ref, len(id), data, refs[i], len(want[i]))
		}
		i++
	})
	if i != len(want) {
		t.Fatalf("each gave %d entries, want %d", i, len(want))
	}
	for i, id := range want {
		if got := ids.find(ids.hash([]byte(id)), []byte(id)); got != refs[i] {
			t.Fatalf("find of id %d = %d, want %d", i, got, refs[i])
		}
	}
}

// TestIDTableCollidingTags holds ids whose tags are equal (as if their
// hashes collided): they must still be told apart by their text.
func TestIDTableCollidingTags(t *testing.T) {
	ids := newIDTable(1, 0)
	const tag = 12345
	var refs []uint32
	for i := range 20 {
		ref, added, err := ids.intern(tag, []byte(fmt.Sprint("id-", i)))
		if err != nil || !added {
			t.Fatalf("intern %d: %v, added %v", i, err, added)
		}
		refs = append(refs, ref)
	}
	for i, ref := range refs {
		if got := ids.find(tag, []byte(fmt.Sprint("id-", i))); got != ref {
			t.Errorf("find id-%d = %d, want %d", i, got, ref)
		}
	}
	if got := ids.find(tag, []byte("id-20")); got != 0 {
		t.Errorf("find of a missing id with a known tag = %d, want 0", got)
	}
}

func TestIDTableLongIDs(t *testing.T) {
	ids := newIDTable(1, 0)
	long := fmt.Sprintf("%0300d", 7) // a length that takes two uvarint bytes
	ref, _ := intern(t, ids, long)
	short, _ := intern(t, ids, "P-1")
	if got := ids.ID(ref); got != long {
		t.Errorf("ID of the long id = %q", got)
	}
	var got []string
	ids.each(func(_ uint32, id, _ []byte) { got = append(got, string(id)) })
	if len(got) != 2 || got[0] != long || got[1] != "P-1" || ids.ID(short) != "P-1" {
		t.Errorf("the entries are %q", got)
	}
}

func TestIDBatchFind(t *testing.T) {
	ids := newIDTable(1, 0)
	want := map[string]uint32{}
	for _, id := range []string{"A", "B", "12", ""} {
		want[id], _ = intern(t, ids, id)
	}
	var b idBatch
	for _, v := range []any{"A", "A", []byte("B"), int64(12), "Z", "", []byte{0xff}, "B", "B"} {
		b.add(v)
	}
	wantRefs := []uint32{want["A"], want["A"], want["B"], want["12"], 0, want[""], 0, want["B"], want["B"]}
	b.find(ids)
	if b.n != len(wantRefs) {
		t.Fatalf("batch holds %d ids, want %d", b.n, len(wantRefs))
	}
	for k, w := range wantRefs {
		if b.ref[k] != w {
			t.Errorf("id %d (%q): ref %d, want %d", k, b.id(k), b.ref[k], w)
		}
	}
	if got := string(b.id(1)); got != "A" {
		t.Errorf("a repeated id reads %q, want A", got)
	}
	if got := string(b.id(6)); got != `\xff` {
		t.Errorf("invalid UTF-8 reads %q, want its hex text", got)
	}
	b.reset()
	b.add("B")
	if b.same[0] {
		t.Error("the first id after a reset is marked as the same as the one before")
	}
}
