package scriptlog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/testdb"
)

var storeDrivers = []string{"sqlite", "postgres"}

// openLog returns an unkeyed log in a fresh vigil store of driver (opened
// with store.Open, so the table comes from the store's migrations), and an
// administrative connection to the same database for tampering.
func openLog(tb testing.TB, driver string) (*SQL, *sql.DB) {
	tb.Helper()
	return openKeyedLog(tb, driver, Key{})
}

// testKey is a key as an operator makes one: 32 random bytes (these are
// fixed so that failures reproduce).
var testKey = mustKey([]byte("0123456789abcdef0123456789abcdef"))

func mustKey(b []byte) Key {
	k, err := NewKey(b)
	if err != nil {
		panic(err)
	}
	return k
}

// openKeyedLog is openLog for a log keyed with key.
func openKeyedLog(tb testing.TB, driver string, key Key) (*SQL, *sql.DB) {
	tb.Helper()
	db := testdb.Open(tb, driver)
	st, err := store.Open(context.Background(), driver, db.AdminDSN)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	log, err := NewSQL(st.DB(), st.Driver(), key)
	if err != nil {
		tb.Fatal(err)
	}
	return log, db.Admin
}

var t0 = time.Date(2025, 3, 1, 9, 30, 0, 123456789, time.UTC)

// run records a finished run that started at start and took d.
func run(tb testing.TB, log Log, r Record, start time.Time, d time.Duration, status Status) Record {
	tb.Helper()
	if r.Purpose == "" {
		r.Purpose = "fix stuck policies"
	}
	if r.Script == "" {
		r.Script = "./fix.sh"
	}
	r.StartedAt = start
	rec, err := log.Start(context.Background(), r)
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	if status == Running {
		return rec
	}
	rec.EndedAt, rec.Duration, rec.Status = start.Add(d), d, status
	if status != Success {
		rec.ExitCode = 3
	}
	rec.Output = r.Output
	rec.OutputBytes = int64(len(r.Output))
	rec, err = log.Finish(context.Background(), rec)
	if err != nil {
		tb.Fatalf("finish: %v", err)
	}
	return rec
}

// verify verifies log without a key or anchors.
func verify(tb testing.TB, log Log) VerifyReport {
	tb.Helper()
	return verifyWith(tb, log, VerifyOptions{})
}

func verifyWith(tb testing.TB, log Log, opts VerifyOptions) VerifyReport {
	tb.Helper()
	rep, err := Verify(context.Background(), log, opts)
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	return rep
}

func TestSQLRoundTrip(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			log, _ := openLog(t, driver)
			ctx := context.Background()
			binary := []byte("ok\x00\xff\xfe\n\x1b[31mred\x1b[0m")
			in := Record{
				Script: "bash fix.sh --dry-run", ScriptSHA256: strings.Repeat("ab", 32), Actor: "alice",
				Purpose: "re-attach EN-FLOOD-01", Ticket: "OPS-42", Target: "policies",
				Inputs:    Inputs{Args: []string{"fix.sh", "--dry-run"}, Env: []EnvVar{{Name: "PGHOST", Value: "db<&>"}, {Name: "X", Unset: true}}},
				StartedAt: t0,
			}
			started, err := log.Start(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if started.ID == 0 || started.Status != Running || started.PrevHash != Genesis || len(started.Hash) != 64 {
				t.Errorf("started = %+v", started)
			}
			got, err := log.Get(ctx, started.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != Running || !got.EndedAt.IsZero() || got.Output != nil {
				t.Errorf("running run = %+v", got)
			}
			fin := started
			fin.EndedAt, fin.Duration, fin.ExitCode, fin.Status = t0.Add(1500*time.Millisecond), 1500*time.Millisecond, 0, Success
			fin.Output, fin.OutputBytes = binary, 99
			if _, err := log.Finish(ctx, fin); err != nil {
				t.Fatal(err)
			}
			got, err = log.Get(ctx, started.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := in
			want.ID, want.StartedAt, want.EndedAt = started.ID, t0.Truncate(time.Microsecond), t0.Add(1500*time.Millisecond).Truncate(time.Microsecond)
			want.Duration, want.Status, want.Output, want.OutputBytes = 1500*time.Millisecond, Success, binary, 99
			want.PrevHash, want.Hash, want.FinishSeq, want.FinishHash = Genesis, started.Hash, got.FinishSeq, got.FinishHash
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
				t.Errorf("Get =\n%+v\nwant\n%+v", got, want)
			}
			if !bytes.Equal(got.Output, binary) {
				t.Errorf("output = %q, want %q", got.Output, binary)
			}
			if got.FinishSeq <= got.ID || len(got.FinishHash) != 64 {
				t.Errorf("finish link = %d %q", got.FinishSeq, got.FinishHash)
			}
			if rep := verify(t, log); !rep.OK() || rep.Entries != 2 || rep.Runs != 1 || rep.Head != got.FinishHash {
				t.Errorf("verify = %+v", rep)
			}
		})
	}
}

func TestSQLErrors(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			log, _ := openLog(t, driver)
			ctx := context.Background()
			done := run(t, log, Record{}, t0, time.Second, Success)
			open := run(t, log, Record{}, t0, 0, Running)
			tests := []struct {
				name string
				call func() error
				want error
			}{
				{"start without purpose", func() error {
					_, err := log.Start(ctx, Record{Script: "x", StartedAt: t0, Purpose: "  "})
					return err
				}, ErrInvalid},
				{"start without time", func() error {
					_, err := log.Start(ctx, Record{Script: "x", Purpose: "p"})
					return err
				}, ErrInvalid},
				{"finish unknown run", func() error {
					_, err := log.Finish(ctx, Record{ID: 999, Status: Success, EndedAt: t0})
					return err
				}, ErrNotFound},
				{"finish a finish entry", func() error {
					_, err := log.Finish(ctx, Record{ID: done.FinishSeq, Status: Success, EndedAt: t0})
					return err
				}, ErrNotFound},
				{"finish twice", func() error {
					_, err := log.Finish(ctx, Record{ID: done.ID, Status: Failed, EndedAt: t0})
					return err
				}, ErrFinished},
				{"finish as running", func() error {
					_, err := log.Finish(ctx, Record{ID: open.ID, Status: Running, EndedAt: t0})
					return err
				}, ErrInvalid},
				{"get unknown", func() error {
					_, err := log.Get(ctx, 12345)
					return err
				}, ErrNotFound},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if err := tt.call(); !errors.Is(err, tt.want) {
						t.Errorf("err = %v, want %v", err, tt.want)
					}
				})
			}
			if rep := verify(t, log); !rep.OK() || rep.Entries != 3 {
				t.Errorf("failed calls changed the chain: %+v", rep)
			}
		})
	}
}

// TestSQLConcurrentAppends starts runs from many goroutines over several
// connections of a keyed log: the chain must stay one line, started by one
// keyed checkpoint.
func TestSQLConcurrentAppends(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			log, admin := openKeyedLog(t, driver, testKey)
			if driver == "sqlite" {
				// A second pool with several connections on the same file.
				var path string
				if err := admin.QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil {
					t.Fatal(err)
				}
				db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				if log, err = NewSQL(db, driver, testKey); err != nil {
					t.Fatal(err)
				}
			}
			const n = 12
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rec, err := log.Start(context.Background(), Record{Script: "true", Purpose: "p", StartedAt: t0})
					if err == nil {
						rec.Status, rec.EndedAt = Success, t0.Add(time.Duration(i)*time.Second)
						_, err = log.Finish(context.Background(), rec)
					}
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			rep := verifyWith(t, log, VerifyOptions{Keys: []Key{testKey}})
			if !rep.OK() || rep.Entries != 2*n+1 || rep.HeadSeq != 2*n+1 || rep.Checkpoints != 1 || len(rep.Parts) != 1 || rep.Parts[0].KeyID != testKey.ID() {
				t.Errorf("verify = %+v (broken: %v)", rep, rep.Broken)
			}
		})
	}
}

func TestSQLSearch(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			log, _ := openLog(t, driver)
			ctx := context.Background()
			day := 24 * time.Hour
			a := run(t, log, Record{Actor: "alice", Purpose: "Backfill endorsements", Ticket: "OPS-1", Target: "policies",
				Inputs: Inputs{Args: []string{"--since", "2025-01-01"}}}, t0, time.Second, Success)
			b := run(t, log, Record{Actor: "bob", Purpose: "redrive DLQ", Ticket: "OPS-2", Target: "queues",
				Script: "vigil redrive --queue orders-dlq"}, t0.Add(day), time.Second, Failed)
			c := run(t, log, Record{Actor: "alice", Purpose: "fix 100% of docs_v2", Ticket: "OPS-2", Target: "policies",
				Inputs: Inputs{Env: []EnvVar{{Name: "MODE", Value: `say "hi"`}}}}, t0.Add(2*day), time.Second, Interrupted)
			d := run(t, log, Record{Actor: "carol", Purpose: "still going", Target: "warehouse"}, t0.Add(3*day), 0, Running)
			ids := func(rs []Record) []int64 {
				out := []int64{}
				for _, r := range rs {
					out = append(out, r.ID)
				}
				return out
			}
			tests := []struct {
				name string
				q    Query
				want []int64
			}{
				{"all newest first", Query{}, []int64{d.ID, c.ID, b.ID, a.ID}},
				{"actor", Query{Actor: "alice"}, []int64{c.ID, a.ID}},
				{"ticket", Query{Ticket: "OPS-2"}, []int64{c.ID, b.ID}},
				{"target", Query{Target: "policies"}, []int64{c.ID, a.ID}},
				{"purpose substring any case", Query{Purpose: "BACKFILL"}, []int64{a.ID}},
				{"purpose with LIKE characters", Query{Purpose: "100% of docs_v2"}, []int64{c.ID}},
				{"percent is literal", Query{Purpose: "%"}, []int64{c.ID}},
				{"text in args", Query{Text: "2025-01-01"}, []int64{a.ID}},
				{"text in script", Query{Text: "orders-dlq"}, []int64{b.ID}},
				{"text with quotes in env", Query{Text: `say "hi"`}, []int64{c.ID}},
				{"short text", Query{Text: "hi"}, []int64{c.ID}},
				{"short purpose", Query{Purpose: "DL"}, []int64{b.ID}},
				{"status failed", Query{Status: Failed}, []int64{b.ID}},
				{"status running", Query{Status: Running}, []int64{d.ID}},
				{"status success", Query{Status: Success}, []int64{a.ID}},
				{"date range", Query{From: t0.Add(day), To: t0.Add(3 * day)}, []int64{c.ID, b.ID}},
				{"combined", Query{Actor: "alice", Status: Interrupted, From: t0}, []int64{c.ID}},
				{"no match", Query{Actor: "mallory"}, []int64{}},
				{"limit", Query{Limit: 2}, []int64{d.ID, c.ID}},
				{"keyset page", Query{Limit: 2, BeforeID: c.ID}, []int64{b.ID, a.ID}},
				{"offset page", Query{Limit: 2, Offset: 2}, []int64{b.ID, a.ID}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := log.Search(ctx, tt.q)
					if err != nil {
						t.Fatal(err)
					}
					if fmt.Sprint(ids(got)) != fmt.Sprint(tt.want) {
						t.Errorf("Search(%+v) = %v, want %v", tt.q, ids(got), tt.want)
					}
				})
			}
			got, err := log.Search(ctx, Query{Ticket: "OPS-2"})
			if err != nil {
				t.Fatal(err)
			}
			if got[0].Status != Interrupted || got[0].Inputs.Env[0].Value != `say "hi"` || got[1].Script != "vigil redrive --queue orders-dlq" ||
				got[1].ExitCode != 3 || got[1].EndedAt.IsZero() || got[1].Output != nil {
				t.Errorf("search rows = %+v", got)
			}
		})
	}
}
