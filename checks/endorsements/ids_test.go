package endorsements

import (
	"fmt"
	"testing"
)

func TestIDTableInternAndFind(t *testing.T) {
	for _, hint := range []int{0, 5000} {
		t.Run(fmt.Sprintf("hint %d", hint), func(t *testing.T) {
			ids := newIDTable(hint, hint*6)
			const n = 5000 // several doublings from the smallest table
			for i := range n {
				id := fmt.Sprintf("P-%d", i)
				got, added := ids.Intern(id)
				if got != int32(i) || !added {
					t.Fatalf("Intern(%q) = %d, %v; want %d, true", id, got, added, i)
				}
			}
			for i := range n {
				id := fmt.Sprintf("P-%d", i)
				if got, added := ids.Intern(id); got != int32(i) || added {
					t.Fatalf("Intern(%q) again = %d, %v; want %d, false", id, got, added, i)
				}
				if got := ids.Find([]byte(id)); got != int32(i) {
					t.Fatalf("Find(%q) = %d, want %d", id, got, i)
				}
				if got := ids.ID(int32(i)); got != id {
					t.Fatalf("ID(%d) = %q, want %q", i, got, id)
				}
			}
			if got := ids.Find([]byte("P-5000")); got != -1 {
				t.Fatalf("Find of a missing id = %d, want -1", got)
			}
			if ids.Len() != n {
				t.Fatalf("Len = %d, want %d", ids.Len(), n)
			}
		})
	}
}

func TestIDCursorFind(t *testing.T) {
	ids := newIDTable(0, 0)
	for _, id := range []string{"A", "B", "C", "12", "D", "E", "F", "G", "H", "I", "J", "K", "L", ""} {
		ids.Intern(id)
	}
	var c idCursor
	tests := []struct {
		name string
		v    any
		want int32
	}{
		{"first", "A", 0},
		{"same again", "A", 0},
		{"next", []byte("B"), 1},
		{"skips ahead", "E", 5},
		{"behind", "C", 2},
		{"integer as text", int64(12), 3},
		{"beyond the lookahead", "L", 12},
		{"missing", "Z", -1},
		{"missing again", "Z", -1},
		{"after a miss", "K", 11},
		{"empty text", "", 13},
		{"NULL", nil, -1},
		{"invalid UTF-8 bytes", []byte{0xff}, -1},
		{"after NULL", "B", 1},
	}
	for _, tt := range tests {
		if got := c.Find(ids, tt.v); got != tt.want {
			t.Errorf("%s: Find(%#v) = %d, want %d", tt.name, tt.v, got, tt.want)
		}
	}
}
