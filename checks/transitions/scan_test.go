package transitions

import (
	"strings"
	"testing"
)

// TestEachEntitySharedHash forces every entity onto one hash, as a
// collision would, and expects each entity's events on their own.
func TestEachEntitySharedHash(t *testing.T) {
	s := newScan(newMachine(map[string][]string{"pending": {"paid"}}, nil))
	add := func(entity, state string, at int64) {
		t.Helper()
		if err := s.add([]byte(entity), []byte(state), at, 0); err != nil {
			t.Fatal(err)
		}
	}
	add("A", "pending", 0)
	add("B", "paid", 5)
	add("A", "paid", 10)
	add("C", "shipped", 5)
	add("C", "pending", 5)
	s.buckets = make([]uint32, len(s.buckets))
	for _, chunk := range s.events {
		for i := range chunk {
			chunk[i].hash = 42 << 56
		}
	}
	s.buckets[42] = uint32(s.n)

	var got []string
	s.eachEntity(func(events []event) {
		var parts []string
		for _, e := range events {
			parts = append(parts, string(s.entity(e))+":"+s.stateNames[e.state])
		}
		got = append(got, strings.Join(parts, " "))
	})
	want := []string{"A:pending A:paid", "B:paid", "C:shipped C:pending"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("entities %q, want %q", got, want)
	}
}
