package duplicates

import (
	"strings"
	"testing"
	"time"
)

// TestEachRaceSharedHash forces every key onto one hash, as a collision
// would, and expects each key's races to be found on their own.
func TestEachRaceSharedHash(t *testing.T) {
	s := newScan()
	add := func(key, id string, at int64) {
		t.Helper()
		if err := s.add([]byte(key), []byte(id), at, 0); err != nil {
			t.Fatal(err)
		}
	}
	add("A", "a1", 0)
	add("B", "b1", 1)
	add("C", "c1", 100)
	add("A", "a2", 10)
	add("C", "c2", 101)
	add("D", "d1", 1000)
	s.buckets = make([]uint32, len(s.buckets))
	for _, chunk := range s.rows {
		for i := range chunk {
			chunk[i].hash = 42 << 56
		}
	}
	s.buckets[42] = uint32(s.n)

	var got []string
	s.eachRace(2*time.Second, func(group []row) {
		var ids []string
		for _, r := range group {
			ids = append(ids, string(s.key(r))+":"+string(s.id(r)))
		}
		got = append(got, strings.Join(ids, " "))
	})
	want := []string{"C:c1 C:c2"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("races %q, want %q", got, want)
	}
}
