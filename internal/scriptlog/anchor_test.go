package scriptlog

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseAnchors(t *testing.T) {
	h := strings.Repeat("ab", 32)
	good := "# vigil scriptlog anchors\n\n2026-12-03T10:00:00Z seq=42 hash=" + h + "\n  2026-12-03T11:00:00+01:00 seq=43 hash=" + h + "  \n"
	as, err := ParseAnchors(strings.NewReader(good), "anchors.log")
	if err != nil {
		t.Fatal(err)
	}
	want := []Anchor{
		{At: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Seq: 42, Hash: h, Where: "anchors.log:3"},
		{At: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Seq: 43, Hash: h, Where: "anchors.log:4"},
	}
	if len(as) != 2 || !as[0].At.Equal(want[0].At) || !as[1].At.Equal(want[1].At) || as[0].Seq != 42 || as[1].Where != want[1].Where || as[0].Hash != h {
		t.Errorf("anchors = %+v, want %+v", as, want)
	}
	if got := as[0].String(); got != "2026-12-03T10:00:00Z seq=42 hash="+h {
		t.Errorf("String = %q", got)
	}
	for _, bad := range []string{
		"2026-12-03 seq=1 hash=" + h,
		"2026-12-03T10:00:00Z seq=0 hash=" + h,
		"2026-12-03T10:00:00Z seq=x hash=" + h,
		"2026-12-03T10:00:00Z seq=1 hash=" + strings.ToUpper(h),
		"2026-12-03T10:00:00Z seq=1 hash=abc",
		"2026-12-03T10:00:00Z 1 " + h,
		"2026-12-03T10:00:00Z seq=1 hash=" + h + " extra",
	} {
		_, err := ParseAnchors(strings.NewReader("# ok\n"+bad+"\n"), "a.log")
		if err == nil || !strings.Contains(err.Error(), "a.log:2: not an anchor") {
			t.Errorf("%q: err = %v, want a.log:2: not an anchor", bad, err)
		}
	}
}

// TestAppendAnchorConcurrent: appends from many writers (replicas sharing
// a file) leave whole lines, each one an anchor, and a private file.
func TestAppendAnchorConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchors.log")
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a := Anchor{At: t0, Seq: int64(i + 1), Hash: strings.Repeat("0", 64)}
			if err := AppendAnchor(path, a); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	as, err := ReadAnchorFile(path)
	if err != nil || len(as) != n {
		t.Fatalf("read %d anchors: %v", len(as), err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("anchor file mode = %v, %v; want 0600", fi.Mode(), err)
	}
}
