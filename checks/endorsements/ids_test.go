package endorsements

import (
	"fmt"
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
			ids := newIDTable(hint, hint*6)
			const n = 5000 // several doublings from the smallest table
			refs := make([]uint32, n)
			for i := range n {
				id := fmt.Sprintf("P-%d", i)
				ref, added := intern(t, ids, id)
				if !added || ids.index(ref) != int32(i) {
					t.Fatalf("intern(%q) = index %d, %v; want %d, true", id, ids.index(ref), added, i)
				}
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
			// The arena's entries come back in index order.
			i := 0
			for ref := uint32(1); ref < uint32(ids.ArenaLen()); i++ {
				id, index, next := ids.entry(ref)
				if want := fmt.Sprintf("P-%d", i); string(id) != want || index != int32(i) {
					t.Fatalf("entry %d is %q with index %d, want %q", i, id, index, want)
				}
				ref = next
			}
		})
	}
}

// TestIDTableCollidingTags holds ids whose tags are equal (as if their
// hashes collided): they must still be told apart by their text.
func TestIDTableCollidingTags(t *testing.T) {
	ids := newIDTable(0, 0)
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
	ids := newIDTable(0, 0)
	long := fmt.Sprintf("%0300d", 7) // a length that takes two uvarint bytes
	ref, _ := intern(t, ids, long)
	short, _ := intern(t, ids, "P-1")
	if got := ids.ID(ref); got != long {
		t.Errorf("ID of the long id = %q", got)
	}
	if ids.index(short) != 1 || ids.ID(short) != "P-1" {
		t.Errorf("the entry after the long one is %q with index %d", ids.ID(short), ids.index(short))
	}
}

func TestIDBatchFind(t *testing.T) {
	ids := newIDTable(0, 0)
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
