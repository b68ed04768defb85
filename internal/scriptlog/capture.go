package scriptlog

import (
	"fmt"
	"io"
	"sync"
)

// capture keeps a command's output, stdout and stderr interleaved in the
// order their writes arrived, bounded to a head and a tail, and streams each
// write to its live writer under the same lock (so a shared live writer sees
// the same order and is never written concurrently).
type capture struct {
	mu               sync.Mutex
	head             []byte // the first headCap bytes
	tail             []byte // ring of the last tailCap bytes after the head
	next             int    // where the ring writes next
	full             bool   // the ring has wrapped
	total            int64  // bytes written in all
	headCap, tailCap int
}

func newCapture(limit int) *capture {
	if limit <= 0 {
		limit = DefaultOutputCap
	}
	return &capture{headCap: limit / 2, tailCap: limit - limit/2}
}

// stream returns a writer for one of the child's streams that captures and
// copies to live (nil: capture only). A failing live writer (a closed
// terminal) stops getting output but never stops the child.
func (c *capture) stream(live io.Writer) io.Writer {
	return &stream{c: c, live: live}
}

type stream struct {
	c      *capture
	live   io.Writer
	failed bool
}

func (s *stream) Write(p []byte) (int, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.add(p)
	if s.live != nil && !s.failed {
		if _, err := s.live.Write(p); err != nil {
			s.failed = true
		}
	}
	return len(p), nil
}

// Write captures p (Exec's own notes); it never fails.
func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(p)
	return len(p), nil
}

func (c *capture) add(p []byte) {
	c.total += int64(len(p))
	if room := c.headCap - len(c.head); room > 0 {
		n := min(room, len(p))
		c.head = append(c.head, p[:n]...)
		p = p[n:]
	}
	if c.tailCap == 0 {
		return
	}
	if len(p) >= c.tailCap { // only the last tailCap bytes can survive
		c.tail = append(c.tail[:0], p[len(p)-c.tailCap:]...)
		c.next, c.full = 0, true
		return
	}
	for len(p) > 0 {
		if !c.full && len(c.tail) < c.tailCap {
			n := min(c.tailCap-len(c.tail), len(p))
			c.tail = append(c.tail, p[:n]...)
			p = p[n:]
			if len(c.tail) == c.tailCap {
				c.full, c.next = true, 0
			}
			continue
		}
		n := copy(c.tail[c.next:], p)
		p = p[n:]
		c.next = (c.next + n) % c.tailCap
	}
}

// result returns the kept output, redacted (head and tail separately, with
// a marker between them when bytes were left out), and the total written.
func (c *capture) result(red *Redactor) ([]byte, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tail := c.tail
	if c.full {
		tail = append(append([]byte{}, c.tail[c.next:]...), c.tail[:c.next]...)
	}
	omitted := c.total - int64(len(c.head)) - int64(len(tail))
	if omitted == 0 {
		return red.Bytes(append(append([]byte{}, c.head...), tail...)), c.total
	}
	out := red.Bytes(c.head)
	out = append(out, fmt.Sprintf("\n[... vigil: %d bytes of output omitted ...]\n", omitted)...)
	return append(out, red.Bytes(tail)...), c.total
}
