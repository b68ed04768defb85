package scriptlog

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Genesis is the PrevHash of the first entry of a chain.
var Genesis = strings.Repeat("0", 64)

// The canonical encodings, named by the line that heads them. An entry's
// encoding follows from its place in the chain: entries before the first
// keyed part are EncodingV1; a keyed part (see Checkpoint.Keyed) is
// EncodingV2 from its first entry on. A new encoding gets a new version, and
// old entries keep verifying under theirs.
const (
	// EncodingV1 is public: the hash is SHA-256, which anyone can
	// recompute, so it detects accidents, not a store writer.
	EncodingV1 = "vigil-scriptlog-v1"
	// EncodingV2 is keyed: the hash is HMAC-SHA256 (RFC 2104) under the
	// log's Key, which only holders of the key can compute.
	EncodingV2 = "vigil-scriptlog-v2"
)

// Retention: how long Prune keeps a run, and the least a checkpoint may
// claim (Verify rejects a checkpoint that removed a younger run).
// Unfinished runs count as failures, by their start time.
const (
	KeepSuccess = 90 * 24 * time.Hour  // successes, after they ended
	KeepFailed  = 365 * 24 * time.Hour // failed and interrupted runs
)

// TimeLayout is how times are written in the canonical encoding: UTC, with
// exactly six fractional digits (stores keep microseconds).
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// canonical returns the bytes an entry's hash covers: the encoding's name
// and a line feed, then every field of Entry except Hash and PrevHash,
// always all of them and in this fixed order, each written as
//
//	name SP decimal-byte-length LF value LF
//
// Integers are decimal, times are TimeLayout (empty for the zero time),
// Output is its raw bytes; the length prefix makes any bytes safe. V1 and
// V2 differ only in their first line.
func canonical(encoding string, e Entry) []byte {
	var b []byte
	b = append(b, encoding...)
	b = append(b, '\n')
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

// HashEntry returns the hash that links e to prevHash. With the zero Key
// it is EncodingV1: the hex SHA-256 of prevHash (as its hex text) followed
// by the canonical encoding. With a key it is EncodingV2: the hex
// HMAC-SHA256, under the key, of the same bytes.
func HashEntry(k Key, prevHash string, e Entry) string {
	var h hash.Hash
	encoding := EncodingV1
	if k.IsZero() {
		h = sha256.New()
	} else {
		h, encoding = hmac.New(sha256.New, k.secret), EncodingV2
	}
	h.Write([]byte(prevHash))
	h.Write(canonical(encoding, e))
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

// Checkpoint is the content of a checkpoint entry, an entry vigil appends
// about the chain itself rather than about a run. It either starts a keyed
// part of the chain (Keyed), or vouches for the entries one Prune removed
// (Gaps, Removed).
type Checkpoint struct {
	// Keyed, on the checkpoint that starts a keyed part: that entry and
	// every entry after it, up to the next such checkpoint, are hashed with
	// EncodingV2 under the key it names. Its own hash, under that key, also
	// seals everything before it.
	Keyed *Keyed `json:"keyed,omitempty"`

	SuccessBefore time.Time `json:"success_before,omitzero"` // successes that ended before this were removed
	FailedBefore  time.Time `json:"failed_before,omitzero"`  // failures (and unfinished runs) before this
	Runs          int       `json:"runs,omitempty"`
	Gaps          []Gap     `json:"gaps,omitempty"`
	// Removed lists every run the prune removed, so that Verify can check
	// that retention let each of them go. Checkpoints written before
	// vigil recorded it have none (see Verify).
	Removed []RemovedRun `json:"removed,omitempty"`
}

// Keyed names the key of a keyed part of the chain.
type Keyed struct {
	KeyID    string `json:"key_id"`   // Key.ID
	Encoding string `json:"encoding"` // EncodingV2
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

// RemovedRun is one run a checkpoint removed: what Verify needs to check
// that retention let it go, and the hashes of its entries, so that an
// anchored head among them can still be checked.
type RemovedRun struct {
	ID         int64     `json:"id"` // its start entry
	StartHash  string    `json:"start_hash"`
	StartedAt  time.Time `json:"started_at"`
	Finish     int64     `json:"finish,omitempty"` // its finish entry; 0 when it never finished
	FinishHash string    `json:"finish_hash,omitempty"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	Status     Status    `json:"status"` // Running when it never finished
}

// expired says why retention does not let r go at now, or "" when it
// does: a success KeepSuccess after it ended, a failed or interrupted run
// KeepFailed after it ended, an unfinished one KeepFailed after it started.
func (r RemovedRun) expired(now time.Time) string {
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }
	age := func(t time.Time) string { return fmt.Sprintf("%.1f days", now.Sub(t).Hours()/24) }
	switch r.Status {
	case Success:
		if !r.EndedAt.Before(now.Add(-KeepSuccess)) {
			return fmt.Sprintf("a success that ended %s, %s before the checkpoint: retention keeps successes %d days", day(r.EndedAt), age(r.EndedAt), int(KeepSuccess.Hours()/24))
		}
	case Failed, Interrupted:
		if !r.EndedAt.Before(now.Add(-KeepFailed)) {
			return fmt.Sprintf("a %s run that ended %s, %s before the checkpoint: retention keeps failed runs %d days", r.Status, day(r.EndedAt), age(r.EndedAt), int(KeepFailed.Hours()/24))
		}
	case Running:
		if !r.StartedAt.Before(now.Add(-KeepFailed)) {
			return fmt.Sprintf("an unfinished run that started %s, %s before the checkpoint: retention keeps unfinished runs %d days", day(r.StartedAt), age(r.StartedAt), int(KeepFailed.Hours()/24))
		}
		if r.Finish != 0 {
			return "an unfinished run with a finish entry"
		}
	default:
		return fmt.Sprintf("a run with the unknown status %q", r.Status)
	}
	if r.Finish != 0 && r.Finish <= r.ID {
		return fmt.Sprintf("a run whose finish entry %d is not after its start", r.Finish)
	}
	return ""
}

// VerifyOptions is what Verify checks the chain against.
type VerifyOptions struct {
	// Keys are the keys the chain may be keyed with: the current one, and
	// earlier ones after a rotation. With none, a keyed part cannot be
	// verified (it is reported broken where it starts).
	Keys []Key
	// Anchors are heads recorded outside the store; each must still be in
	// the chain with the same hash.
	Anchors []Anchor
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Entries     int    // entries walked
	Runs        int    // start entries walked
	Checkpoints int    // checkpoint entries walked
	HeadSeq     int64  // the last entry's sequence number
	Head        string // the last entry's hash; anchor it outside the store to detect removal of the newest entries
	// Parts are the chain's parts in order: an unkeyed part (KeyID "")
	// comes only first; each keyed part starts with its key's checkpoint.
	Parts []Part
	// LegacyCheckpoints counts checkpoints written before checkpoints
	// recorded the runs they removed, accepted because a keyed part
	// after them seals them.
	LegacyCheckpoints int
	// Anchors counts the anchored heads checked.
	Anchors int
	Broken  *Break // the first broken link; nil when the chain is intact
}

// Part is a span of the chain hashed one way: unkeyed (KeyID "") or under
// one key.
type Part struct {
	First, Last int64 // sequence numbers of its first and last entries
	KeyID       string
	Entries     int
}

// OK reports whether the chain is intact.
func (r VerifyReport) OK() bool { return r.Broken == nil }

// Keyed reports whether the chain's newest part is keyed.
func (r VerifyReport) Keyed() bool { return len(r.Parts) > 0 && r.Parts[len(r.Parts)-1].KeyID != "" }

// Break is the first broken link of a chain.
type Break struct {
	Seq    int64 // the entry at which the chain breaks
	RunID  int64 // the run (record id) that entry belongs to; 0 for a checkpoint
	Kind   EntryKind
	Reason string
}

func (b *Break) String() string {
	switch {
	case b.RunID != 0:
		return fmt.Sprintf("record %d (%s entry %d): %s", b.RunID, b.Kind, b.Seq, b.Reason)
	case b.Kind != "":
		return fmt.Sprintf("entry %d (%s): %s", b.Seq, b.Kind, b.Reason)
	}
	return fmt.Sprintf("entry %d: %s", b.Seq, b.Reason)
}

// Verify walks the chain and reports its first broken link:
//
//   - an entry whose content no longer matches its hash (edited), under
//     the encoding of its part: SHA-256 in the unkeyed part, HMAC-SHA256
//     under the part's key in a keyed part (a keyed part whose key is not
//     in opts.Keys is broken where it starts: it cannot be told from a
//     forgery);
//   - an entry whose PrevHash is not the hash of the entry before it (an
//     entry before it was edited, or the rows were reordered);
//   - missing entries that no intact checkpoint after them vouches for
//     (deleted): its gaps must chain from the hash before them to the
//     PrevHash after them, and its Removed runs must list each of them;
//   - a checkpoint that removed a run retention keeps (a success younger
//     than KeepSuccess or a failure younger than KeepFailed at the
//     checkpoint's time), or that does not list the runs it removed: such a
//     legacy checkpoint is accepted only before a keyed part, which seals
//     it;
//   - with a key given, entries that no keyed part seals (the chain was
//     never keyed, or was rewritten without the key);
//   - an anchored head that is no longer in the chain with its hash (the
//     newest entries were removed, or the chain was rewritten).
//
// Without a key, a store writer can rewrite the whole chain with recomputed
// hashes; without anchors, removing the newest entries leaves no trace. The
// error is non-nil only when the log cannot be read.
func Verify(ctx context.Context, log Walker, opts VerifyOptions) (VerifyReport, error) {
	v := verifier{
		keys:     map[string]Key{},
		prevHash: Genesis,
		gaps:     map[int64]vouched{},
		runs:     map[int64]bool{},
		anchors:  map[int64][]Anchor{},
	}
	for _, k := range opts.Keys {
		v.keys[k.ID()] = k
	}
	for _, a := range opts.Anchors {
		v.anchors[a.Seq] = append(v.anchors[a.Seq], a)
	}
	v.rep.Anchors = len(opts.Anchors)
	if err := log.Walk(ctx, func(e Entry) error { v.entry(e); return nil }); err != nil {
		return v.rep, fmt.Errorf("scriptlog: verify: %w", err)
	}
	v.finish(len(opts.Keys) > 0)
	return v.rep, nil
}

// verifier is the state of one Verify.
type verifier struct {
	rep      VerifyReport
	keys     map[string]Key
	key      Key  // the current part's key; zero in the unkeyed part
	keyKnown bool // false in a keyed part whose key was not given
	last     Entry
	prevSeq  int64
	prevHash string
	gaps     map[int64]vouched // by Gap.First
	pending  []pendingGap
	runs     map[int64]bool // started, not yet finished
	removals []removal
	legacy   []Entry // legacy checkpoints in the unkeyed part
	sealedAt int64   // the last intact checkpoint that starts a keyed part
	// unknownAt is the last checkpoint that starts a part keyed with a key
	// not given (broken already).
	unknownAt int64
	anchors   map[int64][]Anchor
	// brokenRank orders breaks at one entry: a broken link (the cause)
	// outranks what follows from it.
	brokenRank int
}

const (
	linkRank = iota
	hashRank
	contentRank
)

// fail keeps the earliest break.
func (v *verifier) fail(e Entry, rank int, reason string, args ...any) {
	if b := v.rep.Broken; b == nil || e.Seq < b.Seq || (e.Seq == b.Seq && rank < v.brokenRank) {
		v.rep.Broken = &Break{Seq: e.Seq, RunID: e.RunID, Kind: e.Kind, Reason: fmt.Sprintf(reason, args...)}
		v.brokenRank = rank
	}
}

func (v *verifier) entry(e Entry) {
	v.rep.Entries++
	var (
		cp    Checkpoint
		cpErr error
	)
	if e.Kind == KindCheckpoint {
		cpErr = json.Unmarshal([]byte(e.Checkpoint), &cp)
	}
	starts := cpErr == nil && cp.Keyed != nil
	if starts {
		k, ok := v.keys[cp.Keyed.KeyID]
		v.key, v.keyKnown = k, ok
		v.rep.Parts = append(v.rep.Parts, Part{First: e.Seq, KeyID: cp.Keyed.KeyID})
		switch {
		case cp.Keyed.Encoding != EncodingV2:
			v.fail(e, contentRank, "starts a keyed part with the unknown encoding %q", cp.Keyed.Encoding)
		case !ok:
			v.unknownAt = e.Seq
			v.fail(e, hashRank, "starts a part keyed with key %s, which was not given: it and every entry after it cannot be verified, "+
				"nor told from a forgery (give that key: scriptlog.key_file, or --key FILE for a key used before a rotation)", cp.Keyed.KeyID)
		}
	} else if len(v.rep.Parts) == 0 {
		v.keyKnown = true
		v.rep.Parts = append(v.rep.Parts, Part{First: e.Seq})
	}
	part := &v.rep.Parts[len(v.rep.Parts)-1]
	part.Last = e.Seq
	part.Entries++

	switch {
	case e.Seq > v.prevSeq+1:
		v.pending = append(v.pending, pendingGap{afterSeq: v.prevSeq, afterHash: v.prevHash, entry: e})
	case e.PrevHash != v.prevHash:
		v.fail(e, linkRank, "prev_hash does not match the hash of entry %d: an entry was edited, inserted or reordered", v.prevSeq)
	}
	intact := v.keyKnown && HashEntry(v.key, e.PrevHash, e) == e.Hash
	if v.keyKnown && !intact {
		if v.key.IsZero() {
			v.fail(e, hashRank, "hash does not match the entry's content: the entry was edited")
		} else {
			v.fail(e, hashRank, "hash does not match the entry's content under key %s: the entry was edited, or written without the key", v.key.ID())
		}
	}
	if starts && intact {
		v.sealedAt = e.Seq
	}
	for _, a := range v.anchors[e.Seq] {
		if a.Hash != e.Hash {
			v.fail(e, linkRank, "its hash is not the one anchored at %s (%s): the chain was rewritten after it was anchored", a.At.UTC().Format(time.RFC3339), a.Where)
		}
	}

	switch e.Kind {
	case KindStart:
		v.rep.Runs++
		v.runs[e.Seq] = true
		if e.RunID != e.Seq {
			v.fail(e, contentRank, "start entry names run %d, not itself", e.RunID)
		}
	case KindFinish:
		if !v.runs[e.RunID] {
			v.fail(e, contentRank, "finish entry for run %d, which has no start before it", e.RunID)
		}
		delete(v.runs, e.RunID)
	case KindCheckpoint:
		v.rep.Checkpoints++
		if cpErr != nil {
			v.fail(e, contentRank, "checkpoint content is not readable: %v", cpErr)
		} else if intact {
			v.checkpoint(e, cp)
		}
	default:
		v.fail(e, contentRank, "unknown entry kind %q", e.Kind)
	}
	v.prevSeq, v.prevHash, v.last = e.Seq, e.Hash, e
	v.rep.HeadSeq, v.rep.Head = e.Seq, e.Hash
}

// checkpoint takes in an intact checkpoint's claims.
func (v *verifier) checkpoint(e Entry, cp Checkpoint) {
	switch {
	case cp.Keyed != nil && (len(cp.Gaps) > 0 || len(cp.Removed) > 0):
		v.fail(e, contentRank, "a checkpoint either starts a keyed part or removes runs, not both")
		return
	case len(cp.Gaps) > 0 && len(cp.Removed) == 0:
		if !v.key.IsZero() {
			v.fail(e, contentRank, "checkpoint vouches for %s without listing the runs it removed", gapSpans(cp.Gaps))
			return
		}
		v.legacy = append(v.legacy, e) // judged once the whole chain is read
	}
	for _, g := range cp.Gaps {
		v.gaps[g.First] = vouched{Gap: g, by: e.Seq}
	}
	for _, r := range cp.Removed {
		if why := r.expired(e.At); why != "" {
			v.fail(e, contentRank, "vouches for the removal of record %d, %s", r.ID, why)
		}
		if r.ID >= e.Seq || r.Finish >= e.Seq {
			v.fail(e, contentRank, "vouches for the removal of record %d, which comes after it", r.ID)
		}
		v.removals = append(v.removals, removal{seq: r.ID, run: r.ID, hash: r.StartHash, by: e})
		if r.Finish != 0 {
			v.removals = append(v.removals, removal{seq: r.Finish, run: r.ID, hash: r.FinishHash, by: e})
		}
	}
}

// removal is one entry a checkpoint says it removed.
type removal struct {
	seq, run int64
	hash     string
	by       Entry // the checkpoint
}

func gapSpans(gaps []Gap) string {
	var spans []string
	for _, g := range gaps {
		spans = append(spans, span(g.First, g.Last))
	}
	return strings.Join(spans, ", ")
}

// spanIs is span with its verb: "entry 5 is", "entries 5 to 6 are".
func spanIs(from, to int64) string {
	if from == to {
		return span(from, to) + " is"
	}
	return span(from, to) + " are"
}

func span(from, to int64) string {
	if from == to {
		return fmt.Sprintf("entry %d", from)
	}
	return fmt.Sprintf("entries %d to %d", from, to)
}

// finish judges what needs the whole chain: the missing entries, legacy
// checkpoints, an unsealed chain and anchored heads.
func (v *verifier) finish(keyed bool) {
	removed := map[int64]*removal{}
	legacy := map[int64]bool{}
	for _, cp := range v.legacy {
		legacy[cp.Seq] = true
	}
	// A missing entry is excused when a checkpoint lists it, or when it
	// lies in a gap of a legacy checkpoint (judged below).
	var excused []seqSpan
	for i, r := range v.removals {
		removed[r.seq] = &v.removals[i]
		excused = append(excused, seqSpan{r.seq, r.seq})
	}
	for _, g := range v.gaps {
		if legacy[g.by] {
			excused = append(excused, seqSpan{g.First, g.Last})
		}
	}
	excused = mergeSpans(excused)
	for _, p := range v.pending {
		if from, to, ok := p.unvouched(v.gaps); ok {
			v.fail(p.entry, linkRank, "%s missing and no checkpoint vouches for them: deleted", spanIs(from, to))
		} else if seq, ok := firstOutside(excused, p.afterSeq+1, p.entry.Seq-1); ok {
			v.fail(p.entry, contentRank, "entry %d is missing and no checkpoint lists it among the runs it removed: deleted", seq)
		}
	}
	for _, r := range v.removals {
		if !v.missing(r.seq) {
			v.fail(r.by, contentRank, "lists entry %d (record %d) as removed, but it is not missing", r.seq, r.run)
		}
	}
	for _, cp := range v.legacy {
		if v.sealedAt > cp.Seq {
			v.rep.LegacyCheckpoints++
			continue
		}
		if v.unknownAt > cp.Seq {
			continue // it may be sealed, under the key that is missing: that break says so
		}
		var c Checkpoint
		_ = json.Unmarshal([]byte(cp.Checkpoint), &c)
		v.fail(cp, contentRank, "vouches for %s without listing the runs it removed with their status and times, "+
			"so nothing shows that retention let them go: treated as a deletion (checkpoints written before vigil "+
			"listed them are accepted only when a keyed part seals them)", gapSpans(c.Gaps))
	}
	if keyed && v.rep.Entries > 0 && !v.rep.Keyed() {
		p := v.rep.Parts[len(v.rep.Parts)-1]
		v.fail(v.last, hashRank, "%s not keyed although a key was given: either nothing appended with the key "+
			"yet (vigil serve seals the log with its key when it starts), or a store writer rewrote the chain with the public encoding",
			spanIs(p.First, p.Last))
	}
	for seq, as := range v.anchors {
		for _, a := range as {
			switch r := removed[seq]; {
			case seq > v.rep.HeadSeq:
				v.fail(Entry{Seq: seq}, linkRank, "the head anchored at %s (%s) is gone: the chain now ends at entry %d, so its newest entries were removed",
					a.At.UTC().Format(time.RFC3339), a.Where, v.rep.HeadSeq)
			case r != nil && v.missing(seq):
				if r.hash != a.Hash {
					v.fail(Entry{Seq: seq}, linkRank, "the head anchored at %s (%s) was removed by checkpoint %d with another hash: the chain was rewritten after it was anchored",
						a.At.UTC().Format(time.RFC3339), a.Where, r.by.Seq)
				}
			case v.missing(seq):
				v.fail(Entry{Seq: seq}, linkRank, "the head anchored at %s (%s) is missing and no checkpoint records its hash",
					a.At.UTC().Format(time.RFC3339), a.Where)
			}
		}
	}
}

// missing reports whether seq falls between entries of the chain.
func (v *verifier) missing(seq int64) bool {
	i := sort.Search(len(v.pending), func(i int) bool { return v.pending[i].entry.Seq > seq })
	return i < len(v.pending) && v.pending[i].afterSeq < seq
}

// seqSpan is the sequence numbers from..to.
type seqSpan struct{ from, to int64 }

// mergeSpans sorts spans and joins those that overlap or touch.
func mergeSpans(spans []seqSpan) []seqSpan {
	slices.SortFunc(spans, func(a, b seqSpan) int { return cmp.Compare(a.from, b.from) })
	var out []seqSpan
	for _, s := range spans {
		if n := len(out); n > 0 && s.from <= out[n-1].to+1 {
			out[n-1].to = max(out[n-1].to, s.to)
			continue
		}
		out = append(out, s)
	}
	return out
}

// firstOutside returns the first of from..to that none of spans (merged)
// holds, if any.
func firstOutside(spans []seqSpan, from, to int64) (int64, bool) {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].to >= from })
	if i < len(spans) && spans[i].from <= from {
		from = spans[i].to + 1
	}
	return from, from <= to
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
