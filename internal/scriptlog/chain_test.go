package scriptlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHashCoversEveryField changes one field at a time: each change must
// change the hash, and so must the previous hash.
func TestHashCoversEveryField(t *testing.T) {
	base := Entry{
		Seq: 7, Kind: KindFinish, RunID: 5, Script: "s", ScriptSHA256: "h", Actor: "a", Purpose: "p",
		Ticket: "t", Target: "g", Inputs: "{}", At: t0, DurationMS: 10, ExitCode: 1, Status: Failed,
		OutputBytes: 4, Output: []byte("out\x00"), Checkpoint: "",
	}
	tests := []struct {
		name   string
		change func(e *Entry)
	}{
		{"seq", func(e *Entry) { e.Seq = 8 }},
		{"kind", func(e *Entry) { e.Kind = KindStart }},
		{"run_id", func(e *Entry) { e.RunID = 6 }},
		{"script", func(e *Entry) { e.Script = "s2" }},
		{"script_sha256", func(e *Entry) { e.ScriptSHA256 = "h2" }},
		{"actor", func(e *Entry) { e.Actor = "b" }},
		{"purpose", func(e *Entry) { e.Purpose = "q" }},
		{"ticket", func(e *Entry) { e.Ticket = "u" }},
		{"target", func(e *Entry) { e.Target = "x" }},
		{"inputs", func(e *Entry) { e.Inputs = `{"args":[]}` }},
		{"at", func(e *Entry) { e.At = t0.Add(time.Microsecond) }},
		{"duration_ms", func(e *Entry) { e.DurationMS = 11 }},
		{"exit_code", func(e *Entry) { e.ExitCode = 0 }},
		{"status", func(e *Entry) { e.Status = Success }},
		{"output_bytes", func(e *Entry) { e.OutputBytes = 5 }},
		{"output", func(e *Entry) { e.Output = []byte("out\x01") }},
		{"checkpoint", func(e *Entry) { e.Checkpoint = "{}" }},
		// Length prefixes keep field boundaries: moving a byte from one
		// field to the next must not collide.
		{"boundary", func(e *Entry) { e.Actor, e.Purpose = "ap", "" }},
	}
	for _, key := range []Key{{}, testKey} {
		want := HashEntry(key, Genesis, base)
		for _, tt := range tests {
			t.Run(key.String()+"/"+tt.name, func(t *testing.T) {
				e := base
				tt.change(&e)
				if HashEntry(key, Genesis, e) == want {
					t.Errorf("changing %s does not change the hash", tt.name)
				}
			})
		}
		if HashEntry(key, strings.Repeat("1", 64), base) == want {
			t.Errorf("%s: the previous hash is not covered", key)
		}
	}
	// The keyed hash is not the public one, and depends on the key.
	other := mustKey([]byte("another key, also thirty-two bytes"))
	if HashEntry(testKey, Genesis, base) == HashEntry(Key{}, Genesis, base) || HashEntry(testKey, Genesis, base) == HashEntry(other, Genesis, base) {
		t.Error("the keyed hash does not depend on the key")
	}
}

// chainOf4 records four finished runs (the third failed with exit code 3):
// entries 1..8, run i has start 2i-1 and finish 2i.
func chainOf4(tb testing.TB, log Log) {
	tb.Helper()
	for i, st := range []Status{Success, Success, Failed, Success} {
		run(tb, log, Record{Actor: "alice", Output: []byte("done\n")}, t0.Add(time.Duration(i)*time.Hour), time.Minute, st)
	}
}

// TestVerifyDetectsTampering edits the database directly, as someone with
// write access would, and expects Verify to name the first bad entry.
func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name       string
		tamper     []string
		wantSeq    int64
		wantRun    int64
		wantReason string
	}{
		{"edit purpose", []string{"UPDATE script_log SET purpose = 'nothing to see' WHERE seq = 3"}, 3, 3, "edited"},
		{"edit exit code", []string{"UPDATE script_log SET exit_code = 0, status = 'success' WHERE seq = 6"}, 6, 5, "edited"},
		{"edit output", []string{"UPDATE script_log SET output = output || output WHERE seq = 4"}, 4, 3, "edited"},
		{"edit actor of two, first named", []string{
			"UPDATE script_log SET actor = 'bob' WHERE seq = 7",
			"UPDATE script_log SET actor = 'bob' WHERE seq = 5",
		}, 5, 5, "edited"},
		{"delete a start", []string{"DELETE FROM script_log WHERE seq = 5"}, 6, 5, "entry 5 is missing"},
		{"delete a finish", []string{"DELETE FROM script_log WHERE seq = 2"}, 3, 3, "entry 2 is missing"},
		{"delete a run", []string{"DELETE FROM script_log WHERE run_id = 3"}, 5, 5, "entries 3 to 4 are missing"},
		{"delete the first", []string{"DELETE FROM script_log WHERE seq = 1"}, 2, 1, "entry 1 is missing"},
		{"swap two rows' ids", []string{
			"UPDATE script_log SET seq = -1 WHERE seq = 3",
			"UPDATE script_log SET seq = 3 WHERE seq = 5",
			"UPDATE script_log SET seq = 5 WHERE seq = -1",
		}, 3, 5, ""},
		{"append a forged entry", []string{
			"INSERT INTO script_log (seq, kind, run_id, at, prev_hash, hash) SELECT 9, 'start', 9, at, hash, hash FROM script_log WHERE seq = 8",
		}, 9, 9, "edited"},
		{"forged checkpoint for a deletion", []string{
			"DELETE FROM script_log WHERE seq = 4",
			`INSERT INTO script_log (seq, kind, run_id, at, checkpoint, prev_hash, hash) SELECT 9, 'checkpoint', 0, at,
			 '{"gaps":[{"first":4,"last":4,"prev_hash":"` + "x" + `","last_hash":"y"}]}', hash, hash FROM script_log WHERE seq = 8`,
		}, 5, 5, "entry 4 is missing"},
	}
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					log, db := openLog(t, driver)
					chainOf4(t, log)
					if rep := verify(t, log); !rep.OK() {
						t.Fatalf("intact chain broken: %v", rep.Broken)
					}
					for _, stmt := range tt.tamper {
						if _, err := db.Exec(stmt); err != nil {
							t.Fatalf("tamper %q: %v", stmt, err)
						}
					}
					rep := verify(t, log)
					if rep.OK() {
						t.Fatal("Verify found nothing")
					}
					b := rep.Broken
					if b.Seq != tt.wantSeq || b.RunID != tt.wantRun || !strings.Contains(b.Reason, tt.wantReason) {
						t.Errorf("broken = %v, want entry %d of record %d (%q)", b, tt.wantSeq, tt.wantRun, tt.wantReason)
					}
				})
			}
		})
	}
}

// TestVerifyRecomputedHash: an edit whose hash was recomputed is caught by
// the next entry's link.
func TestVerifyRecomputedHash(t *testing.T) {
	log, db := openLog(t, "sqlite")
	chainOf4(t, log)
	var e Entry
	if err := log.Walk(context.Background(), func(x Entry) error {
		if x.Seq == 4 {
			e = x
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.ExitCode = 9
	if _, err := db.Exec("UPDATE script_log SET exit_code = 9, hash = ? WHERE seq = 4", HashEntry(Key{}, e.PrevHash, e)); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, log)
	if rep.OK() || rep.Broken.Seq != 5 || !strings.Contains(rep.Broken.Reason, "hash of entry 4") {
		t.Errorf("broken = %v, want entry 5 naming entry 4", rep.Broken)
	}
}

func TestPruneKeepsFailuresAndVerifies(t *testing.T) {
	day := 24 * time.Hour
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			log, db := openLog(t, driver)
			ctx := context.Background()
			now := t0.Add(400 * day)
			at := func(daysAgo int) time.Time { return now.Add(-time.Duration(daysAgo) * day) }
			start := func(purpose string, daysAgo int) Record {
				return run(t, log, Record{Purpose: purpose}, at(daysAgo), 0, Running)
			}
			finish := func(r Record, daysAgo int, st Status) {
				t.Helper()
				r.EndedAt, r.Status = at(daysAgo), st
				if _, err := log.Finish(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			oldSuccess := start("old success", 400)
			finish(oldSuccess, 400, Success)
			oldFailure := start("old failure", 399)
			finish(oldFailure, 399, Failed)
			// Interleaved: the pruned run's entries are not adjacent.
			midSuccess := start("mid success", 101)
			midFailure := start("mid failure", 101)
			finish(midSuccess, 100, Success)
			finish(midFailure, 100, Interrupted)
			recentSuccess := start("recent success", 50)
			finish(recentSuccess, 50, Success)
			start("abandoned", 390)
			current := start("current", 1)

			rep, err := log.Prune(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Runs != 4 || rep.Entries != 7 || rep.CheckpointSeq != 13 {
				t.Errorf("prune = %+v, want 4 runs, 7 entries, checkpoint 13", rep)
			}
			purposes := func() string {
				rs, err := log.Search(ctx, Query{})
				if err != nil {
					t.Fatal(err)
				}
				var ps []string
				for _, r := range rs {
					ps = append(ps, r.Purpose)
				}
				return strings.Join(ps, ",")
			}
			if got, want := purposes(), "current,recent success,mid failure"; got != want {
				t.Errorf("kept %s, want %s", got, want)
			}
			if v := verify(t, log); !v.OK() || v.Checkpoints != 1 {
				t.Fatalf("after prune: %+v %v", v, v.Broken)
			}

			// Later: the recent success ages out; the gaps compose with
			// the first checkpoint's, and new runs chain on.
			rep, err = log.Prune(ctx, now.Add(60*day))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Runs != 1 || rep.Entries != 2 {
				t.Errorf("second prune = %+v", rep)
			}
			finish(current, 0, Success)
			run(t, log, Record{Purpose: "after"}, now, time.Second, Failed)
			if got, want := purposes(), "after,current,mid failure"; got != want {
				t.Errorf("kept %s, want %s", got, want)
			}
			if v := verify(t, log); !v.OK() || v.Checkpoints != 2 {
				t.Fatalf("after second prune: %+v %v", v, v.Broken)
			}
			if rep, err := log.Prune(ctx, now); err != nil || rep != (PruneReport{}) {
				t.Errorf("prune with nothing to do = %+v, %v", rep, err)
			}

			// A deletion no checkpoint vouches for is still caught.
			if _, err := db.Exec("DELETE FROM script_log WHERE purpose = 'mid failure'"); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("entry %d is missing", midFailure.ID)
			if v := verify(t, log); v.OK() || v.Broken.Seq <= midFailure.ID || !strings.Contains(v.Broken.Reason, want) {
				t.Errorf("after deleting the start of run %d: broken = %v, want %q", midFailure.ID, v.Broken, want)
			}
		})
	}
}

func TestVerifyEmpty(t *testing.T) {
	log, _ := openLog(t, "sqlite")
	if rep := verify(t, log); !rep.OK() || rep.Entries != 0 || rep.Head != "" {
		t.Errorf("empty log = %+v", rep)
	}
}

// TestKeyedPartsAndSealing follows a log through its life: unkeyed runs
// with a checkpoint written before checkpoints listed their runs, then a
// key (the first keyed append seals what came before), then a rotation.
func TestKeyedPartsAndSealing(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			unkeyed, db := openLog(t, driver)
			chainOf4(t, unkeyed)
			// A checkpoint as vigil wrote them before they listed the
			// removed runs: run 1 (entries 1-2) pruned.
			es := entries(t, unkeyed)
			tamper(t, db, driver, "DELETE FROM script_log WHERE seq <= 2")
			legacy := fmt.Sprintf(`{"success_before":"2025-01-01T00:00:00Z","failed_before":"2024-01-01T00:00:00Z","runs":1,"gaps":[{"first":1,"last":2,"prev_hash":%q,"last_hash":%q}]}`,
				Genesis, es[1].Hash)
			forge(t, db, driver, Key{}, Entry{Kind: KindCheckpoint, At: t0.Add(100 * day), Checkpoint: legacy})
			if rep := verify(t, unkeyed); rep.OK() || rep.Broken.Seq != 9 {
				t.Fatalf("an unsealed legacy checkpoint: %v, want broken at 9", rep.Broken)
			}

			// The key arrives: Seal starts a keyed part that seals entries 3-9.
			keyA := testKey
			logA, err := NewSQL(unkeyed.db, driver, keyA)
			if err != nil {
				t.Fatal(err)
			}
			if err := logA.Seal(ctx, t0.Add(101*day)); err != nil {
				t.Fatal(err)
			}
			if err := logA.Seal(ctx, t0.Add(101*day)); err != nil { // idempotent
				t.Fatal(err)
			}
			run(t, logA, Record{}, t0.Add(102*day), time.Minute, Success)
			rep := verifyWith(t, logA, VerifyOptions{Keys: []Key{keyA}})
			if !rep.OK() || rep.LegacyCheckpoints != 1 || len(rep.Parts) != 2 ||
				rep.Parts[0] != (Part{First: 3, Last: 9, Entries: 7}) || rep.Parts[1] != (Part{First: 10, Last: 12, KeyID: keyA.ID(), Entries: 3}) {
				t.Fatalf("after sealing: %+v %v", rep, rep.Broken)
			}
			// Without the key the keyed part cannot be told from a forgery.
			if rep := verify(t, logA); rep.OK() || rep.Broken.Seq != 10 || !strings.Contains(rep.Broken.Reason, "key "+keyA.ID()+", which was not given") {
				t.Errorf("verify without the key: %v", rep.Broken)
			}
			// An unkeyed writer cannot append to the keyed chain.
			if _, err := unkeyed.Start(ctx, Record{Script: "x", Purpose: "p", StartedAt: t0}); !errors.Is(err, ErrKeyed) {
				t.Errorf("unkeyed append to a keyed chain: %v, want ErrKeyed", err)
			}

			// Rotation: key B starts its own part; verify needs both keys.
			keyB := mustKey([]byte("the second key, thirty-two bytes"))
			logB, err := NewSQL(unkeyed.db, driver, keyB)
			if err != nil {
				t.Fatal(err)
			}
			run(t, logB, Record{}, t0.Add(103*day), time.Minute, Failed)
			rep = verifyWith(t, logB, VerifyOptions{Keys: []Key{keyA, keyB}})
			if !rep.OK() || len(rep.Parts) != 3 || rep.Parts[2].KeyID != keyB.ID() || rep.Parts[2].First != 13 {
				t.Fatalf("after rotation: %+v %v", rep, rep.Broken)
			}
			if rep := verifyWith(t, logB, VerifyOptions{Keys: []Key{keyB}}); rep.OK() || rep.Broken.Seq != 10 {
				t.Errorf("verify without the old key: %v, want broken at 10", rep.Broken)
			}

			// Retention on the keyed chain: the checkpoint lists what it
			// removed, and an anchored head among the removed still checks.
			anchor := Anchor{At: t0, Seq: es[5].Seq, Hash: es[5].Hash, Where: "anchors:1"}
			pr, err := logB.Prune(ctx, t0.Add(500*day))
			if err != nil || pr.Runs != 5 {
				t.Fatalf("prune: %+v %v", pr, err)
			}
			rep = verifyWith(t, logB, VerifyOptions{Keys: []Key{keyA, keyB}, Anchors: []Anchor{anchor}})
			if !rep.OK() || rep.LegacyCheckpoints != 1 || rep.Checkpoints != 4 {
				t.Fatalf("after prune: %+v %v", rep, rep.Broken)
			}
			anchor.Hash = es[4].Hash
			if rep := verifyWith(t, logB, VerifyOptions{Keys: []Key{keyA, keyB}, Anchors: []Anchor{anchor}}); rep.OK() || !strings.Contains(rep.Broken.Reason, "was removed by checkpoint") {
				t.Errorf("a wrong anchored hash of a pruned entry: %v", rep.Broken)
			}
		})
	}
}

func TestNewKey(t *testing.T) {
	if _, err := NewKey(make([]byte, 31)); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") || !strings.Contains(err.Error(), "head -c 32 /dev/urandom") {
		t.Errorf("a 31-byte key: %v", err)
	}
	k := mustKey([]byte("0123456789abcdef0123456789abcdef\n"))
	if k.ID() == testKey.ID() {
		t.Error("a trailing newline is part of the key, so it changes the id")
	}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%v", struct{ K Key }{k})} {
		if strings.Contains(s, "0123456789abcdef") {
			t.Errorf("a key prints its secret: %s", s)
		}
	}
}
