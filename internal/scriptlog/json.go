package scriptlog

import (
	"encoding/base64"
	"time"
	"unicode/utf8"
)

// JSON is a record's JSON form, shared by `vigil scriptlog show/list
// --format json` and the /api/v1/script-runs API.
type JSON struct {
	ID           int64      `json:"id"`
	Script       string     `json:"script"`
	ScriptSHA256 string     `json:"script_sha256"`
	Actor        string     `json:"actor"`
	Purpose      string     `json:"purpose"`
	Ticket       string     `json:"ticket"`
	Target       string     `json:"target"`
	Inputs       Inputs     `json:"inputs"`
	StartedAt    time.Time  `json:"started_at"`
	EndedAt      *time.Time `json:"ended_at"` // null while running
	DurationMS   int64      `json:"duration_ms"`
	ExitCode     *int       `json:"exit_code"` // null while running
	Status       Status     `json:"status"`
	OutputBytes  int64      `json:"output_bytes"`
	// Output is the stored output when it is UTF-8; otherwise OutputBase64
	// holds it. Searches leave both out.
	Output       *string `json:"output,omitempty"`
	OutputBase64 string  `json:"output_base64,omitempty"`
	Hash         string  `json:"hash"`
	PrevHash     string  `json:"prev_hash"`
}

// JSON returns r's JSON form; withOutput adds the stored output.
func (r Record) JSON(withOutput bool) JSON {
	j := JSON{
		ID: r.ID, Script: r.Script, ScriptSHA256: r.ScriptSHA256, Actor: r.Actor, Purpose: r.Purpose,
		Ticket: r.Ticket, Target: r.Target, Inputs: r.Inputs, StartedAt: r.StartedAt.UTC(),
		Status: r.Status, OutputBytes: r.OutputBytes, Hash: r.Hash, PrevHash: r.PrevHash,
	}
	if j.Inputs.Args == nil {
		j.Inputs.Args = []string{}
	}
	if j.Inputs.Env == nil {
		j.Inputs.Env = []EnvVar{}
	}
	if r.Status != Running {
		ended, code := r.EndedAt.UTC(), r.ExitCode
		j.EndedAt, j.ExitCode, j.DurationMS = &ended, &code, r.Duration.Milliseconds()
	}
	if withOutput {
		if utf8.Valid(r.Output) {
			out := string(r.Output)
			j.Output = &out
		} else {
			j.OutputBase64 = base64.StdEncoding.EncodeToString(r.Output)
		}
	}
	return j
}
