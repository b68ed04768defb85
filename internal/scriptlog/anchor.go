package scriptlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Anchor is a head of the chain recorded outside the store: the newest
// entry's sequence number and hash at some time. Because each hash covers
// every entry before it, an anchored head that is still in the chain with
// its hash shows that nothing up to it was removed or rewritten since; one
// that is gone shows that the newest entries were removed. Anchors are only
// as safe as the place they are kept: a store writer who can also rewrite
// them defeats them.
type Anchor struct {
	At    time.Time // when the head was anchored
	Seq   int64
	Hash  string
	Where string // "file:line" it was read from; empty for a fresh one
}

// String is the anchor's line, as anchor files hold it:
//
//	2026-12-03T10:00:00Z seq=42 hash=<64 hex digits>
func (a Anchor) String() string {
	return fmt.Sprintf("%s seq=%d hash=%s", a.At.UTC().Format(time.RFC3339), a.Seq, a.Hash)
}

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseAnchors reads anchor lines from r, whose name is used in errors and
// in each Anchor's Where. Blank lines and lines starting with '#' are
// skipped; any other line that is not an anchor is an error naming it.
func ParseAnchors(r io.Reader, name string) ([]Anchor, error) {
	var out []Anchor
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		a, err := parseAnchor(line)
		if err != nil {
			return nil, fmt.Errorf("scriptlog: %s:%d: %w", name, n, err)
		}
		a.Where = fmt.Sprintf("%s:%d", name, n)
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scriptlog: read anchors from %s: %w", name, err)
	}
	return out, nil
}

func parseAnchor(line string) (Anchor, error) {
	fields := strings.Fields(line)
	bad := errors.New(`not an anchor (want "<RFC 3339 time> seq=<n> hash=<64 hex digits>")`)
	if len(fields) != 3 {
		return Anchor{}, bad
	}
	var a Anchor
	var err error
	if a.At, err = time.Parse(time.RFC3339, fields[0]); err != nil {
		return Anchor{}, bad
	}
	seq, ok1 := strings.CutPrefix(fields[1], "seq=")
	hash, ok2 := strings.CutPrefix(fields[2], "hash=")
	if a.Seq, err = strconv.ParseInt(seq, 10, 64); !ok1 || !ok2 || err != nil || a.Seq < 1 || !hashPattern.MatchString(hash) {
		return Anchor{}, bad
	}
	a.Hash = hash
	return a, nil
}

// ReadAnchorFile reads the anchors in the file at path (see ParseAnchors).
func ReadAnchorFile(path string) ([]Anchor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scriptlog: read anchors: %w", err)
	}
	defer f.Close()
	return ParseAnchors(f, path)
}

// AppendAnchor appends a's line to the file at path, creating it (mode
// 0600) when needed. The line goes in one write to a file opened with
// O_APPEND, so concurrent appenders never interleave within a line, and the
// file is synced before AppendAnchor returns.
func AppendAnchor(path string, a Anchor) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("scriptlog: anchor the head: %w", err)
	}
	if _, err := f.WriteString(a.String() + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("scriptlog: anchor the head: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("scriptlog: anchor the head: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("scriptlog: anchor the head: %w", err)
	}
	return nil
}

// AnchorHead appends the log's head (taken at now) to the anchor file at
// path unless it is last, the head anchored before, and returns the head
// anchored; an empty log anchors nothing.
func (s *SQL) AnchorHead(ctx context.Context, path string, now time.Time, last Anchor) (Anchor, error) {
	head, ok, err := s.Head(ctx, now)
	if err != nil || !ok || (head.Seq == last.Seq && head.Hash == last.Hash) {
		return last, err
	}
	if err := AppendAnchor(path, head); err != nil {
		return last, err
	}
	return head, nil
}
