// Package scriptlog is vigil's tamper-evident log of one-off scripts: who ran
// what, when, why, with which inputs and outputs.
//
// Exec runs a command, streaming its output live, and records the run in a
// Log; a Redactor masks secrets before anything is stored; every entry of the
// log is hash-chained so that Verify detects an edited, deleted or reordered
// entry; Log.Prune applies retention without breaking verifiability.
//
// # Keys and anchors
//
// With a Key (a secret kept outside the store) the chain's hashes are
// HMAC-SHA256, so a store writer without the key cannot recompute them to
// hide an edit, a deletion or a forged checkpoint. Without one the hashes
// are public SHA-256: they detect accidents, not a store writer. Removing
// the newest entries leaves no trace in any chain; an Anchor (the head
// recorded outside the store) detects it.
//
// # Entries and runs
//
// The log is append-only: a run is written as two chain entries, never
// updated. A start entry (command line, script hash, actor, purpose, ticket,
// target, inputs, start time) is appended before the command runs, so a run
// that crashes the recorder is still on record and still chained; a finish
// entry (end time, duration, exit code, status, output) is appended when it
// ends. A run's ID is the sequence number of its start entry. A third kind of
// entry, the checkpoint, is appended by Prune and vouches for the entries it
// removed. Record is the run as users see it: its start and finish joined.
package scriptlog

import (
	"context"
	"errors"
	"time"
)

// Status is where a run stands.
type Status string

const (
	Running     Status = "running"     // started, not finished (or the recorder died)
	Success     Status = "success"     // exited 0
	Failed      Status = "failed"      // exited non-zero, or could not start
	Interrupted Status = "interrupted" // a signal was forwarded to it, or it died of one
)

// Ended reports whether s is a status a finished run can have.
func (s Status) Ended() bool { return s == Success || s == Failed || s == Interrupted }

// Record is one script run: its start joined with its finish.
type Record struct {
	ID           int64  // sequence number of the run's start entry; 0 until started
	Script       string // the command line, redacted and shell-quoted
	ScriptSHA256 string // hex SHA-256 of the script file when the command names one
	Actor        string
	Purpose      string // required
	Ticket       string
	Target       string
	Inputs       Inputs // redacted
	StartedAt    time.Time
	EndedAt      time.Time // zero while running
	Duration     time.Duration
	ExitCode     int
	Status       Status
	// Output is stdout and stderr interleaved, capped (head and tail kept)
	// and redacted; any bytes, not necessarily UTF-8. Search leaves it nil.
	Output []byte
	// OutputBytes is how many bytes the command wrote in all, before the cap.
	OutputBytes int64

	PrevHash, Hash string // the start entry's chain link
	FinishSeq      int64  // the finish entry's sequence number; 0 while running
	FinishHash     string // the finish entry's hash
}

// Inputs are a run's arguments (after the command itself) and the
// environment variables chosen for the record, all redacted.
type Inputs struct {
	Args []string `json:"args"`
	Env  []EnvVar `json:"env"`
}

// EnvVar is one recorded environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Unset bool   `json:"unset,omitempty"` // the variable was not set
}

// EntryKind names what a chain entry records.
type EntryKind string

const (
	KindStart      EntryKind = "start"
	KindFinish     EntryKind = "finish"
	KindCheckpoint EntryKind = "checkpoint"
)

// Entry is one link of the hash chain, as stored. Fields a kind does not use
// hold their zero value. See Canonical for what the hash covers.
type Entry struct {
	Seq   int64 // position in the chain, from 1, strictly increasing
	Kind  EntryKind
	RunID int64 // start: its own Seq; finish: the start's Seq; checkpoint: 0

	// start
	Script, ScriptSHA256, Actor, Purpose, Ticket, Target string
	Inputs                                               string // JSON of Inputs

	// At is the start time (start), the end time (finish) or the time of
	// pruning (checkpoint); UTC, microsecond precision.
	At time.Time

	// finish
	DurationMS  int64
	ExitCode    int
	Status      Status
	OutputBytes int64
	Output      []byte

	// Checkpoint is the JSON of a checkpoint's Checkpoint.
	Checkpoint string

	PrevHash, Hash string
}

// Query selects runs for Search. Zero fields do not filter.
type Query struct {
	Actor, Ticket, Target string // exact match
	Purpose               string // case-insensitive substring
	Text                  string // case-insensitive substring of the command line or the inputs
	Status                Status
	From, To              time.Time // started at or after From, and before To
	BeforeID              int64     // only runs with a smaller ID (keyset paging: pass the last ID seen)
	Limit                 int       // default 50, at most 500
	Offset                int
}

// Query limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// PruneReport says what Prune removed.
type PruneReport struct {
	Runs          int   // runs removed
	Entries       int   // chain entries removed
	CheckpointSeq int64 // the checkpoint entry appended; 0 when nothing was removed
}

// Recorder appends runs to the log; it is all Exec needs, so a remote
// recorder (the API client of `vigil exec --server`) can stand in for a Log.
type Recorder interface {
	// Start appends rec's start entry and returns rec with ID, PrevHash,
	// Hash and Status (Running) set. It fails with ErrInvalid when the
	// purpose, command line or start time is missing.
	Start(ctx context.Context, rec Record) (Record, error)
	// Finish appends the finish entry of the run rec.ID (EndedAt, Duration,
	// ExitCode, Status, Output, OutputBytes) and returns the whole run. It
	// fails with ErrNotFound for an unknown run, ErrFinished when the run
	// already has a finish, and ErrInvalid for a status that is not an end.
	Finish(ctx context.Context, rec Record) (Record, error)
}

// Walker reads the chain, which is all Verify needs.
type Walker interface {
	// Walk calls fn with every entry in chain order and stops at fn's first
	// error, which it returns. fn must not call back into the log.
	Walk(ctx context.Context, fn func(Entry) error) error
}

// Log is the stored script log.
type Log interface {
	Recorder
	Walker
	// Get returns one run with its output, or ErrNotFound.
	Get(ctx context.Context, id int64) (Record, error)
	// Search returns matching runs, newest first, without their output.
	Search(ctx context.Context, q Query) ([]Record, error)
	// Prune removes the runs that retention lets go: successes that ended
	// before now-KeepSuccess, failures and interruptions that ended before
	// now-KeepFailed, and unfinished runs started before now-KeepFailed. In
	// the same transaction it appends a checkpoint that lists the removed
	// runs and vouches for their entries, so the chain still verifies.
	// Checkpoints are never removed.
	Prune(ctx context.Context, now time.Time) (PruneReport, error)
}

// Errors callers can test with errors.Is.
var (
	ErrNotFound = errors.New("scriptlog: run not found")
	ErrFinished = errors.New("scriptlog: run already finished")
	ErrInvalid  = errors.New("scriptlog: invalid record")
)
