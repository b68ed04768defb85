package scriptlog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The attacks below are what someone with write access to the store (and
// the public encoding, which is documented) can do. Each was undetected
// before the chain was keyed and anchored: Verify said intact.
//
// The guarantee they check is RFC 2104's: without the key, nobody can
// compute an HMAC of new content, so a store writer cannot produce a hash
// that verifies under the key; and a hash chain commits every hash to all
// that precedes it, so a head anchored outside the store pins the whole
// chain up to it (the Certificate Transparency / "signed tree head" model,
// RFC 6962 section 3.5).

// entries returns the log's entries in chain order.
func entries(tb testing.TB, log Walker) []Entry {
	tb.Helper()
	var out []Entry
	if err := log.Walk(context.Background(), func(e Entry) error { out = append(out, e); return nil }); err != nil {
		tb.Fatal(err)
	}
	return out
}

// forge appends e after the chain's head as a store writer would, hashed
// under key (the zero Key: the public encoding), straight into the table.
func forge(tb testing.TB, db *sql.DB, driver string, key Key, e Entry) Entry {
	tb.Helper()
	forger, err := NewSQL(db, driver, key)
	if err != nil {
		tb.Fatal(err)
	}
	head, err := forger.headEntry(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	if err := forger.insert(context.Background(), db, head, &e); err != nil {
		tb.Fatal(err)
	}
	return e
}

// rewrite edits entry seq with edit and recomputes, under key, its hash and
// every hash and link after it, as a store writer hiding an edit would.
func rewrite(tb testing.TB, db *sql.DB, driver string, log Walker, key Key, seq int64, edit func(*Entry)) {
	tb.Helper()
	es := entries(tb, log)
	prev := ""
	for i, e := range es {
		if e.Seq < seq {
			prev = e.Hash
			continue
		}
		if e.Seq == seq {
			edit(&e)
		}
		if i > 0 {
			e.PrevHash = prev
		}
		e.Hash = HashEntry(key, e.PrevHash, e)
		prev = e.Hash
		_, err := db.Exec(dialects[driver].rebind("UPDATE script_log SET exit_code = ?, status = ?, purpose = ?, prev_hash = ?, hash = ? WHERE seq = ?"),
			e.ExitCode, string(e.Status), e.Purpose, e.PrevHash, e.Hash, e.Seq)
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// tamper runs a tampering statement with ? placeholders.
func tamper(tb testing.TB, db *sql.DB, driver, q string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(dialects[driver].rebind(q), args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// keyedChainOf4 is chainOf4 in a log keyed with testKey: entry 1 is the
// checkpoint that starts the keyed part, run i has start 2i and finish
// 2i+1.
func keyedChainOf4(tb testing.TB, driver string) (*SQL, *sql.DB) {
	tb.Helper()
	log, db := openKeyedLog(tb, driver, testKey)
	chainOf4(tb, log)
	return log, db
}

var withKey = VerifyOptions{Keys: []Key{testKey}}

func wantBroken(tb testing.TB, rep VerifyReport, seq int64, reason string) {
	tb.Helper()
	if rep.OK() {
		tb.Fatalf("Verify says intact (%d entries, head %d)", rep.Entries, rep.HeadSeq)
	}
	if rep.Broken.Seq != seq || !strings.Contains(rep.Broken.Reason, reason) {
		tb.Errorf("broken at %v\nwant entry %d, reason containing %q", rep.Broken, seq, reason)
	}
}

// TestAttackForgedCheckpoint is the attack of issue 12: delete run 3
// (entries 5 and 6), then append a checkpoint vouching for them, its hash
// computed with the public encoding, so that the gap chains and the old head
// still matches.
func TestAttackForgedCheckpoint(t *testing.T) {
	forgeCheckpoint := func(t *testing.T, db *sql.DB, driver string, es []Entry, first, last int) {
		t.Helper()
		tamper(t, db, driver, "DELETE FROM script_log WHERE seq BETWEEN ? AND ?", es[first-1].Seq, es[last-1].Seq)
		cp := fmt.Sprintf(`{"runs":1,"gaps":[{"first":%d,"last":%d,"prev_hash":%q,"last_hash":%q}]}`,
			es[first-1].Seq, es[last-1].Seq, es[first-1].PrevHash, es[last-1].Hash)
		forge(t, db, driver, Key{}, Entry{Kind: KindCheckpoint, At: t0.Add(400 * 24 * time.Hour), Checkpoint: cp})
	}
	for _, driver := range storeDrivers {
		t.Run(driver+"/unkeyed", func(t *testing.T) {
			log, db := openLog(t, driver)
			chainOf4(t, log)
			es := entries(t, log)
			forgeCheckpoint(t, db, driver, es, 5, 6)
			wantBroken(t, verify(t, log), 9, "entries 5 to 6 without listing the runs it removed")
		})
		t.Run(driver+"/keyed", func(t *testing.T) {
			log, db := keyedChainOf4(t, driver)
			es := entries(t, log) // es[0] is the keyed checkpoint: run 3 is entries 6 and 7
			forgeCheckpoint(t, db, driver, es, 6, 7)
			rep := verifyWith(t, log, withKey)
			// The forged checkpoint's hash fails under the key, so it vouches
			// for nothing: the deletion shows at the entry after the gap.
			wantBroken(t, rep, 8, "entries 6 to 7 are missing and no checkpoint vouches for them")
		})
	}
}

// TestAttackRecomputedEdit edits a run's outcome and recomputes every hash
// after it with the public encoding.
func TestAttackRecomputedEdit(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver+"/keyed", func(t *testing.T) {
			log, db := keyedChainOf4(t, driver)
			rewrite(t, db, driver, log, Key{}, 7, func(e *Entry) { e.ExitCode, e.Status = 0, Success })
			wantBroken(t, verifyWith(t, log, withKey), 7, "written without the key")
		})
		t.Run(driver+"/keyed, rewritten under another key", func(t *testing.T) {
			log, db := keyedChainOf4(t, driver)
			attacker := mustKey([]byte("the attacker's own 32-byte key!!"))
			rewrite(t, db, driver, log, attacker, 7, func(e *Entry) { e.ExitCode, e.Status = 0, Success })
			wantBroken(t, verifyWith(t, log, withKey), 7, "written without the key")
		})
		t.Run(driver+"/keyed, whole chain rewritten unkeyed", func(t *testing.T) {
			log, db := keyedChainOf4(t, driver)
			// Replace the whole chain with one written with the public
			// encoding: no keyed part is left to fail.
			tamper(t, db, driver, "DELETE FROM script_log")
			forger, err := NewSQL(db, driver, Key{})
			if err != nil {
				t.Fatal(err)
			}
			chainOf4(t, forger)
			wantBroken(t, verifyWith(t, log, withKey), 8, "entries 1 to 8 are not keyed although a key was given")
		})
		t.Run(driver+"/unkeyed, head anchored", func(t *testing.T) {
			log, db := openLog(t, driver)
			chainOf4(t, log)
			head, _, err := log.Head(context.Background(), t0)
			if err != nil {
				t.Fatal(err)
			}
			rewrite(t, db, driver, log, Key{}, 6, func(e *Entry) { e.ExitCode, e.Status = 0, Success })
			if rep := verify(t, log); !rep.OK() {
				t.Fatalf("without an anchor the unkeyed rewrite is invisible (the documented limit), got %v", rep.Broken)
			}
			head.Where = "anchors:1"
			wantBroken(t, verifyWith(t, log, VerifyOptions{Anchors: []Anchor{head}}), 8, "chain was rewritten after it was anchored")
		})
	}
}

// TestAttackTruncation deletes the newest entries: the chain that is left
// is intact, and only an anchored head shows what went.
func TestAttackTruncation(t *testing.T) {
	for _, driver := range storeDrivers {
		for _, keyed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keyed=%v", driver, keyed), func(t *testing.T) {
				log, db := openLog(t, driver)
				opts := VerifyOptions{}
				if keyed {
					log, db = keyedChainOf4(t, driver)
					opts = withKey
				} else {
					chainOf4(t, log)
				}
				ctx := context.Background()
				var anchors []Anchor
				for i := range 2 {
					a, ok, err := log.Head(ctx, t0.Add(time.Duration(i)*time.Hour))
					if err != nil || !ok {
						t.Fatalf("head: %v %v", ok, err)
					}
					a.Where = fmt.Sprintf("anchors:%d", i+1)
					anchors = append(anchors, a)
					run(t, log, Record{}, t0.Add(5*time.Hour), time.Minute, Success)
				}
				opts.Anchors = anchors
				if rep := verifyWith(t, log, opts); !rep.OK() || rep.Anchors != 2 {
					t.Fatalf("before: %+v %v", rep, rep.Broken)
				}
				last := anchors[1].Seq
				tamper(t, db, driver, "DELETE FROM script_log WHERE seq >= ?", last)
				if rep := verifyWith(t, log, VerifyOptions{Keys: opts.Keys}); !rep.OK() {
					t.Fatalf("without anchors a truncation is invisible (the documented limit), got %v", rep.Broken)
				}
				wantBroken(t, verifyWith(t, log, opts), last, fmt.Sprintf("(anchors:2) is gone: the chain now ends at entry %d, so its newest entries were removed", last-1))
			})
		}
	}
}

// TestAttackYoungCheckpoint: a checkpoint may only vouch for runs retention
// lets go at its time (successes after 90 days, failures after 365), even
// when its hash is right. The checkpoints here are written with the key
// (a key holder misusing it, or a bug in retention) and without one.
func TestAttackYoungCheckpoint(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name   string
		status Status
		age    time.Duration // of the run's end when the checkpoint is written
		reason string
		broken bool
	}{
		{name: "success 89 days old", status: Success, age: 89 * day, broken: true,
			reason: "a success that ended 2025-03-01 09:31:00Z, 89.0 days before the checkpoint: retention keeps successes 90 days"},
		{name: "failure 200 days old", status: Failed, age: 200 * day, broken: true,
			reason: "a failed run that ended 2025-03-01 09:31:00Z, 200.0 days before the checkpoint: retention keeps failed runs 365 days"},
		{name: "success 91 days old", status: Success, age: 91 * day, broken: false},
		{name: "failure 366 days old", status: Failed, age: 366 * day, broken: false},
	}
	for _, driver := range storeDrivers {
		for _, key := range []Key{{}, testKey} {
			for _, tt := range tests {
				t.Run(driver+"/"+key.String()+"/"+tt.name, func(t *testing.T) {
					log, db := openKeyedLog(t, driver, key)
					r := run(t, log, Record{}, t0, time.Minute, Failed)
					run(t, log, Record{}, t0.Add(time.Hour), time.Minute, Success)
					es := entries(t, log)
					startIdx := 0
					for i, e := range es {
						if e.Seq == r.ID {
							startIdx = i
						}
					}
					start, fin := es[startIdx], es[startIdx+1]
					tamper(t, db, driver, "DELETE FROM script_log WHERE seq BETWEEN ? AND ?", start.Seq, fin.Seq)
					// What Prune would have written, but at the wrong time or
					// with a status the store no longer shows.
					cp, _ := json.Marshal(Checkpoint{Runs: 1,
						Gaps: []Gap{{First: start.Seq, Last: fin.Seq, PrevHash: start.PrevHash, LastHash: fin.Hash}},
						Removed: []RemovedRun{{ID: start.Seq, StartHash: start.Hash, StartedAt: start.At, Finish: fin.Seq,
							FinishHash: fin.Hash, EndedAt: fin.At, Status: tt.status}}})
					c := forge(t, db, driver, key, Entry{Kind: KindCheckpoint, At: fin.At.Add(tt.age), Checkpoint: string(cp)})
					rep := verify(t, log)
					if !key.IsZero() {
						rep = verifyWith(t, log, withKey)
					}
					if !tt.broken {
						if !rep.OK() {
							t.Fatalf("an old enough removal is broken: %v", rep.Broken)
						}
						return
					}
					wantBroken(t, rep, c.Seq, fmt.Sprintf("vouches for the removal of record %d, %s", r.ID, tt.reason))
				})
			}
		}
	}
}

// TestAttackCheckpointHidesADeletion: a checkpoint whose gaps cover more
// entries than the runs it lists hides a deletion in the rest.
func TestAttackCheckpointHidesADeletion(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			log, db := openKeyedLog(t, driver, testKey)
			old := run(t, log, Record{}, t0, time.Minute, Success)
			young := run(t, log, Record{}, t0.Add(time.Hour), time.Minute, Failed)
			run(t, log, Record{}, t0.Add(2*time.Hour), time.Minute, Success)
			es := entries(t, log)
			byseq := map[int64]Entry{}
			for _, e := range es {
				byseq[e.Seq] = e
			}
			tamper(t, db, driver, "DELETE FROM script_log WHERE seq BETWEEN ? AND ?", old.ID, young.FinishSeq)
			cp, _ := json.Marshal(Checkpoint{Runs: 1,
				Gaps: []Gap{{First: old.ID, Last: young.FinishSeq, PrevHash: old.PrevHash, LastHash: young.FinishHash}},
				Removed: []RemovedRun{{ID: old.ID, StartHash: old.Hash, StartedAt: old.StartedAt, Finish: old.FinishSeq,
					FinishHash: old.FinishHash, EndedAt: old.EndedAt, Status: Success}}})
			forge(t, db, driver, testKey, Entry{Kind: KindCheckpoint, At: t0.Add(100 * 24 * time.Hour), Checkpoint: string(cp)})
			wantBroken(t, verifyWith(t, log, withKey), young.FinishSeq+1,
				fmt.Sprintf("entry %d is missing and no checkpoint lists it among the runs it removed", young.ID))
		})
	}
}

// TestAttackHugeGapDoesNotStallVerify: a forged checkpoint may claim a gap
// of 10^15 entries; Verify's work must follow the entries and checkpoints
// it reads, not the sequence numbers they claim, or one row stalls it.
func TestAttackHugeGapDoesNotStallVerify(t *testing.T) {
	const far = int64(1_000_000_000_000_000)
	for _, listed := range []bool{false, true} {
		t.Run(fmt.Sprintf("listed=%v", listed), func(t *testing.T) {
			log, db := openLog(t, "sqlite")
			chainOf4(t, log)
			es := entries(t, log)
			cp := Checkpoint{Gaps: []Gap{{First: 9, Last: far - 1, PrevHash: es[7].Hash, LastHash: strings.Repeat("1", 64)}}}
			if listed {
				cp.Removed = []RemovedRun{{ID: 9, StartHash: strings.Repeat("2", 64), StartedAt: t0, Status: Running}}
			}
			text, _ := json.Marshal(cp)
			e := Entry{Seq: far, Kind: KindCheckpoint, At: t0.Add(400 * 24 * time.Hour), Checkpoint: string(text), PrevHash: strings.Repeat("1", 64), Output: []byte{}}
			e.Hash = HashEntry(Key{}, e.PrevHash, e)
			tamper(t, db, "sqlite", "INSERT INTO script_log (seq, kind, run_id, at, checkpoint, prev_hash, hash) VALUES (?, 'checkpoint', 0, ?, ?, ?, ?)",
				e.Seq, formatTime(e.At), e.Checkpoint, e.PrevHash, e.Hash)
			if rep := verify(t, log); rep.OK() {
				t.Fatal("Verify says intact")
			}
		})
	}
}
