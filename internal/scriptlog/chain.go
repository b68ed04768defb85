package scriptlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Genesis is the PrevHash of the first entry of a chain.
var Genesis = strings.Repeat("0", 64)

// canonicalVersion heads every canonical encoding; a new encoding gets a
// new version, and old entries keep verifying under theirs.
const canonicalVersion = "vigil-scriptlog-v1\n"

// TimeLayout is how times are written in the canonical encoding: UTC, with
// exactly six fractional digits (stores keep microseconds).
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Canonical returns the bytes an entry's hash covers: canonicalVersion, then
// every field of Entry except Hash and PrevHash, always all of them and in
// this fixed order, each written as
//
//	name SP decimal-byte-length LF value LF
//
// Integers are decimal, times are TimeLayout (empty for the zero time),
// Output is its raw bytes; the length prefix makes any bytes safe.
func Canonical(e Entry) []byte {
	var b []byte
	b = append(b, canonicalVersion...)
	field := func(name, value string) {
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(value)), 10)
		b = append(b, '\n')
		b = append(b, value...)
		b = append(b, '\n')
	}
	field("seq", strconv.FormatInt(e.Seq, 10))
	field("kind", string(e.Kind))
	field("run_id", strconv.FormatInt(e.RunID, 10))
	field("script", e.Script)
	field("script_sha256", e.ScriptSHA256)
	field("actor", e.Actor)
	field("purpose", e.Purpose)
	field("ticket", e.Ticket)
	field("target", e.Target)
	field("inputs", e.Inputs)
	field("at", formatTime(e.At))
	field("duration_ms", strconv.FormatInt(e.DurationMS, 10))
	field("exit_code", strconv.Itoa(e.ExitCode))
	field("status", string(e.Status))
	field("output_bytes", strconv.FormatInt(e.OutputBytes, 10))
	field("output", string(e.Output))
	field("checkpoint", e.Checkpoint)
	return b
}

// HashEntry returns the hex SHA-256 of prevHash (as its hex text) followed
// by Canonical(e).
func HashEntry(prevHash string, e Entry) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write(Canonical(e))
	return hex.EncodeToString(h.Sum(nil))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// storedTime is t as a store keeps it: UTC, whole microseconds.
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Checkpoint is the content of a checkpoint entry: what one Prune removed.
type Checkpoint struct {
	SuccessBefore time.Time `json:"success_before"` // successes that ended before this were removed
	FailedBefore  time.Time `json:"failed_before"`  // failures (and unfinished runs) before this
	Runs          int       `json:"runs"`
	Gaps          []Gap     `json:"gaps"`
}

// Gap is one span of consecutive entries a checkpoint vouches for: the
// entries First..Last (sequence numbers; some may have been removed by an
// earlier prune) are gone, the first of them linked to PrevHash and the
// last had hash LastHash.
type Gap struct {
	First    int64  `json:"first"`
	Last     int64  `json:"last"`
	PrevHash string `json:"prev_hash"`
	LastHash string `json:"last_hash"`
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Entries     int    // entries walked
	Runs        int    // start entries walked
	Checkpoints int    // checkpoint entries walked
	HeadSeq     int64  // the last entry's sequence number
	Head        string // the last entry's hash; keep a copy elsewhere to detect removal of the newest entries
	Broken      *Break // the first broken link; nil when the chain is intact
}

// OK reports whether the chain is intact.
func (r VerifyReport) OK() bool { return r.Broken == nil }

// Break is the first broken link of a chain.
type Break struct {
	Seq    int64 // the entry at which the chain breaks
	RunID  int64 // the run (record id) that entry belongs to; 0 for a checkpoint
	Kind   EntryKind
	Reason string
}

func (b *Break) String() string {
	if b.RunID != 0 {
		return fmt.Sprintf("record %d (%s entry %d): %s", b.RunID, b.Kind, b.Seq, b.Reason)
	}
	return fmt.Sprintf("entry %d (%s): %s", b.Seq, b.Kind, b.Reason)
}

// Verify walks the chain and reports its first broken link: an entry whose
// content no longer matches its hash (edited), whose PrevHash is not the hash
// of the entry before it (an entry before it was edited or the rows were
// reordered), or that follows missing entries no checkpoint vouches for
// (deleted). A gap is accepted only when intact checkpoints after it hold
// gaps that chain from the hash before it to the PrevHash after it. The
// removal of the newest entries leaves no trace in the chain itself; compare
// Head with a copy kept elsewhere for that. The error is non-nil only when
// the log cannot be read.
func Verify(ctx context.Context, log Walker) (VerifyReport, error) {
	var (
		rep      VerifyReport
		prevSeq  int64
		prevHash = Genesis
		gaps     = map[int64]vouched{} // by Gap.First
		pending  []pendingGap
		runs     = map[int64]bool{}
	)
	// fail keeps the earliest break; at one entry, a broken link (the
	// cause) outranks what follows from it (rank: lower first).
	brokenRank := 0
	fail := func(e Entry, rank int, reason string, args ...any) {
		if b := rep.Broken; b == nil || e.Seq < b.Seq || (e.Seq == b.Seq && rank < brokenRank) {
			rep.Broken = &Break{Seq: e.Seq, RunID: e.RunID, Kind: e.Kind, Reason: fmt.Sprintf(reason, args...)}
			brokenRank = rank
		}
	}
	const (
		linkRank = iota
		hashRank
		contentRank
	)
	err := log.Walk(ctx, func(e Entry) error {
		rep.Entries++
		switch {
		case e.Seq > prevSeq+1:
			pending = append(pending, pendingGap{afterSeq: prevSeq, afterHash: prevHash, entry: e})
		case e.PrevHash != prevHash:
			fail(e, linkRank, "prev_hash does not match the hash of entry %d: an entry was edited, inserted or reordered", prevSeq)
		}
		intact := HashEntry(e.PrevHash, e) == e.Hash
		if !intact {
			fail(e, hashRank, "hash does not match the entry's content: the entry was edited")
		}
		switch e.Kind {
		case KindStart:
			rep.Runs++
			runs[e.Seq] = true
			if e.RunID != e.Seq {
				fail(e, contentRank, "start entry names run %d, not itself", e.RunID)
			}
		case KindFinish:
			if !runs[e.RunID] {
				fail(e, contentRank, "finish entry for run %d, which has no start before it", e.RunID)
			}
			delete(runs, e.RunID)
		case KindCheckpoint:
			rep.Checkpoints++
			var cp Checkpoint
			if err := json.Unmarshal([]byte(e.Checkpoint), &cp); err != nil {
				fail(e, contentRank, "checkpoint content is not readable: %v", err)
			} else if intact {
				for _, g := range cp.Gaps {
					gaps[g.First] = vouched{Gap: g, by: e.Seq}
				}
			}
		default:
			fail(e, contentRank, "unknown entry kind %q", e.Kind)
		}
		prevSeq, prevHash = e.Seq, e.Hash
		rep.HeadSeq, rep.Head = e.Seq, e.Hash
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("scriptlog: verify: %w", err)
	}
	for _, p := range pending {
		if from, to, ok := p.unvouched(gaps); ok {
			missing := fmt.Sprintf("entry %d is", from)
			if to > from {
				missing = fmt.Sprintf("entries %d to %d are", from, to)
			}
			fail(p.entry, linkRank, "%s missing and no checkpoint vouches for them: deleted", missing)
		}
	}
	return rep, nil
}

type vouched struct {
	Gap
	by int64 // the checkpoint's sequence number
}

// pendingGap is missing entries between afterSeq and entry.
type pendingGap struct {
	afterSeq  int64
	afterHash string
	entry     Entry
}

// unvouched returns the first span of the missing entries that gaps do not
// vouch for, if any: gaps must chain from the hash before the missing
// entries to the PrevHash of the entry after them.
func (p pendingGap) unvouched(gaps map[int64]vouched) (from, to int64, ok bool) {
	seq, hash := p.afterSeq+1, p.afterHash
	for seq < p.entry.Seq {
		g, found := gaps[seq]
		if !found || g.PrevHash != hash || g.Last < g.First || g.Last >= p.entry.Seq || g.by <= g.Last {
			break
		}
		seq, hash = g.Last+1, g.LastHash
	}
	if seq == p.entry.Seq && hash == p.entry.PrevHash {
		return 0, 0, false
	}
	if seq == p.entry.Seq { // the span chains but not to this entry: blame its last gap
		return p.afterSeq + 1, p.entry.Seq - 1, true
	}
	to = p.entry.Seq - 1
	for first := range gaps {
		if first > seq && first <= to {
			to = first - 1
		}
	}
	return seq, to, true
}
