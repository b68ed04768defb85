package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// The script log's JSON API (issue 8):
//
//	POST /api/v1/script-runs             operator  start a run  -> 201 run
//	POST /api/v1/script-runs/:id/finish  operator  finish it    -> 200 run
//	GET  /api/v1/script-runs             viewer    search       -> 200 [run, ...] (Link: rel="next")
//	GET  /api/v1/script-runs/:id         viewer    one run      -> 200 run, with its output
//
// Everything a client sends is redacted (the built-in rules plus the
// config's secrets) before it is stored. The actor is always the
// authenticated user, never a field of the request.

// scriptRunStartRequest is the body of POST /api/v1/script-runs.
type scriptRunStartRequest struct {
	Purpose string `json:"purpose"` // required
	Ticket  string `json:"ticket"`
	Target  string `json:"target"`
	// Script is the command (a program or a script's path) and Args its
	// arguments; the record's command line is both, shell-quoted.
	Script       string   `json:"script"` // required
	Args         []string `json:"args"`
	ScriptSHA256 string   `json:"script_sha256"` // hex, optional
	// EnvNames are the environment variables to record, in order; Env
	// holds their values. A name in EnvNames missing from Env is recorded
	// as unset; a name only in Env is recorded after them.
	EnvNames []string          `json:"env_names"`
	Env      map[string]string `json:"env"`
}

// scriptRunFinishRequest is the body of POST /api/v1/script-runs/:id/finish.
type scriptRunFinishRequest struct {
	ExitCode *int `json:"exit_code"` // required
	// Output is the run's output; OutputBase64 carries output that is not
	// UTF-8 (send one of them).
	Output       string `json:"output"`
	OutputBase64 string `json:"output_base64"`
	// OutputBytes is how many bytes the command wrote before the client
	// capped them; at least the length of the output.
	OutputBytes int64 `json:"output_bytes"`
	// Status is success, failed or interrupted; by default success for
	// exit code 0, else failed.
	Status scriptlog.Status `json:"status"`
}

// scriptLog is the script log in the server's store, keyed with the
// config's scriptlog key. It is cheap to make: it only wraps the store's
// handle.
func (s *Server) scriptLog() (*scriptlog.SQL, error) {
	var key scriptlog.Key
	if s.cfg != nil {
		key = s.cfg.Scriptlog.Key
	}
	log, err := scriptlog.NewSQL(s.store.DB(), s.store.Driver(), key)
	if err != nil {
		return nil, fmt.Errorf("web: script log: %w", err)
	}
	return log, nil
}

// scriptRedactor masks the built-in secrets and those of the config.
func (s *Server) scriptRedactor() *scriptlog.Redactor {
	return scriptlog.NewRedactor(nil, s.cfg.SecretValues())
}

// decodeJSON reads the request body into v strictly: an unknown field, a
// wrong type or trailing data is a 400 that says what is wrong.
func decodeJSON(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "invalid JSON body: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fiber.NewError(fiber.StatusBadRequest, "invalid JSON body: data after the object")
	}
	return nil
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// apiScriptRunStart records the start of a run by the request's user
// (POST /api/v1/script-runs, operator) and answers 201 with the run.
func (s *Server) apiScriptRunStart(c *fiber.Ctx) error {
	var req scriptRunStartRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var problems []string
	if strings.TrimSpace(req.Purpose) == "" {
		problems = append(problems, "purpose is required: say why this script is being run")
	}
	if strings.TrimSpace(req.Script) == "" {
		problems = append(problems, "script is required: the command that runs")
	}
	req.ScriptSHA256 = strings.ToLower(req.ScriptSHA256)
	if req.ScriptSHA256 != "" && !hexSHA256.MatchString(req.ScriptSHA256) {
		problems = append(problems, "script_sha256 must be 64 hex digits")
	}
	if len(problems) > 0 {
		return fiber.NewError(fiber.StatusBadRequest, strings.Join(problems, "; "))
	}
	log, err := s.scriptLog()
	if err != nil {
		return err
	}
	red := s.scriptRedactor()
	argv := red.Args(append([]string{req.Script}, req.Args...))
	rec := scriptlog.Record{
		Script:       scriptlog.CommandLine(argv),
		ScriptSHA256: req.ScriptSHA256,
		Actor:        currentUser(c).Actor(),
		Purpose:      red.String(req.Purpose),
		Ticket:       red.String(req.Ticket),
		Target:       red.String(req.Target),
		Inputs:       scriptlog.Inputs{Args: argv[1:], Env: recordedEnv(red, req.EnvNames, req.Env)},
		StartedAt:    s.now(),
	}
	rec, err = log.Start(c.UserContext(), rec)
	if err != nil {
		return fmt.Errorf("web: start script run: %w", err)
	}
	detail := fmt.Sprintf("purpose=%q ticket=%q target=%q", rec.Purpose, rec.Ticket, rec.Target)
	if err := s.audit(c, "script_run_start", scriptRunTarget(rec.ID), detail); err != nil {
		return err
	}
	c.Location("/api/v1/script-runs/" + strconv.FormatInt(rec.ID, 10))
	return c.Status(fiber.StatusCreated).JSON(rec.JSON(false))
}

// recordedEnv is the env part of a run's inputs: names in order, then the
// names only values has, sorted; values redacted.
func recordedEnv(red *scriptlog.Redactor, names []string, values map[string]string) []scriptlog.EnvVar {
	out := []scriptlog.EnvVar{}
	seen := map[string]bool{}
	add := func(name string) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		v, ok := values[name]
		out = append(out, scriptlog.EnvVar{Name: name, Value: red.Env(name, v), Unset: !ok})
	}
	for _, n := range names {
		add(n)
	}
	extra := make([]string, 0, len(values))
	for n := range values {
		extra = append(extra, n)
	}
	sort.Strings(extra)
	for _, n := range extra {
		add(n)
	}
	return out
}

func scriptRunTarget(id int64) string { return "script-run/" + strconv.FormatInt(id, 10) }

// apiScriptRunFinish records the end of a run (POST
// /api/v1/script-runs/:id/finish, operator) and answers 200 with the run and
// its output. Only the user who started the run, or an admin, may finish
// it; a run is finished once (409 after that).
func (s *Server) apiScriptRunFinish(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var req scriptRunFinishRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	output := []byte(req.Output)
	if req.OutputBase64 != "" {
		if req.Output != "" {
			return fiber.NewError(fiber.StatusBadRequest, "send output or output_base64, not both")
		}
		if output, err = base64.StdEncoding.DecodeString(req.OutputBase64); err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "output_base64 is not base64: "+err.Error())
		}
	}
	if req.ExitCode == nil {
		return fiber.NewError(fiber.StatusBadRequest, "exit_code is required")
	}
	switch {
	case req.Status == "" && *req.ExitCode == 0:
		req.Status = scriptlog.Success
	case req.Status == "":
		req.Status = scriptlog.Failed
	case !req.Status.Ended():
		return fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("status must be success, failed or interrupted, not %q", req.Status))
	}

	log, err := s.scriptLog()
	if err != nil {
		return err
	}
	run, err := log.Get(c.UserContext(), id)
	if errors.Is(err, scriptlog.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "not found")
	} else if err != nil {
		return err
	}
	u := currentUser(c)
	if run.Actor != u.Actor() && !u.Can(RoleAdmin) {
		return fiber.NewError(fiber.StatusForbidden, "forbidden: only who started a run (or an admin) may finish it")
	}
	if run.Status != scriptlog.Running {
		return fiber.NewError(fiber.StatusConflict, fmt.Sprintf("script run %d is already finished", id))
	}
	ended := s.now()
	run.EndedAt, run.Duration = ended, max(ended.Sub(run.StartedAt), 0)
	run.ExitCode, run.Status = *req.ExitCode, req.Status
	run.OutputBytes = max(req.OutputBytes, int64(len(output)))
	run.Output = capOutput(s.scriptRedactor().Bytes(output), scriptlog.DefaultOutputCap)

	run, err = log.Finish(c.UserContext(), run)
	switch {
	case errors.Is(err, scriptlog.ErrFinished):
		return fiber.NewError(fiber.StatusConflict, fmt.Sprintf("script run %d is already finished", id))
	case errors.Is(err, scriptlog.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, "not found")
	case err != nil:
		return fmt.Errorf("web: finish script run %d: %w", id, err)
	}
	detail := fmt.Sprintf("status=%s exit_code=%d", run.Status, run.ExitCode)
	if err := s.audit(c, "script_run_finish", scriptRunTarget(run.ID), detail); err != nil {
		return err
	}
	return c.JSON(run.JSON(true))
}

// capOutput keeps out when it fits in limit bytes, else its first and last
// halves around a line saying how much was left out (as vigil exec does).
func capOutput(out []byte, limit int) []byte {
	if len(out) <= limit {
		return out
	}
	half := limit / 2
	marker := fmt.Sprintf("\n[vigil: %d bytes of output left out]\n", len(out)-2*half)
	capped := make([]byte, 0, 2*half+len(marker))
	capped = append(capped, out[:half]...)
	capped = append(capped, marker...)
	return append(capped, out[len(out)-half:]...)
}

// apiScriptRuns searches the runs (GET /api/v1/script-runs, viewer): a
// JSON array, newest first, without their output; a full page carries a
// Link header (rel="next") to the older runs.
func (s *Server) apiScriptRuns(c *fiber.Ctx) error {
	q, _, err := parseScriptRunQuery(c)
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, err.Error())
	}
	log, err := s.scriptLog()
	if err != nil {
		return err
	}
	runs, err := log.Search(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := make([]scriptlog.JSON, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.JSON(false))
	}
	if len(runs) > 0 {
		setNextLink(c, len(runs), q.Limit, runs[len(runs)-1].ID)
	}
	return c.JSON(out)
}

// apiScriptRun returns one run with its output (GET
// /api/v1/script-runs/:id, viewer).
func (s *Server) apiScriptRun(c *fiber.Ctx) error {
	run, err := s.getScriptRun(c)
	if err != nil {
		return err
	}
	return c.JSON(run.JSON(true))
}

// getScriptRun loads the run named by :id; an unknown one is a 404.
func (s *Server) getScriptRun(c *fiber.Ctx) (scriptlog.Record, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return scriptlog.Record{}, err
	}
	log, err := s.scriptLog()
	if err != nil {
		return scriptlog.Record{}, err
	}
	run, err := log.Get(c.UserContext(), id)
	if errors.Is(err, scriptlog.ErrNotFound) {
		return scriptlog.Record{}, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return run, err
}

// scriptRunFilter is the search as the form shows it back.
type scriptRunFilter struct {
	Actor, Purpose, Ticket, Target, Text, Status, From, To string
	Limit                                                  int
}

// parseScriptRunQuery reads the search parameters actor, purpose, ticket,
// target, text, status, from, to (RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] in
// UTC; a bare date as to includes that day), before (a run id: older runs
// only) and limit (1 to 500, default 50). The error says which parameter is
// wrong.
func parseScriptRunQuery(c *fiber.Ctx) (scriptlog.Query, scriptRunFilter, error) {
	f := scriptRunFilter{
		Actor: strings.TrimSpace(c.Query("actor")), Purpose: strings.TrimSpace(c.Query("purpose")),
		Ticket: strings.TrimSpace(c.Query("ticket")), Target: strings.TrimSpace(c.Query("target")),
		Text: strings.TrimSpace(c.Query("text")), Status: strings.TrimSpace(c.Query("status")),
		From: strings.TrimSpace(c.Query("from")), To: strings.TrimSpace(c.Query("to")),
		Limit: scriptlog.DefaultLimit,
	}
	q := scriptlog.Query{Actor: f.Actor, Purpose: f.Purpose, Ticket: f.Ticket, Target: f.Target, Text: f.Text, Limit: f.Limit}
	var problems []string
	switch st := scriptlog.Status(f.Status); {
	case st == "" || st == scriptlog.Running || st.Ended():
		q.Status = st
	default:
		problems = append(problems, fmt.Sprintf("status must be running, success, failed or interrupted, not %q", f.Status))
	}
	var err error
	if f.From != "" {
		if q.From, err = scriptlog.ParseBound(f.From, false); err != nil {
			problems = append(problems, "from: "+err.Error())
		}
	}
	if f.To != "" {
		if q.To, err = scriptlog.ParseBound(f.To, true); err != nil {
			problems = append(problems, "to: "+err.Error())
		}
	}
	if v := c.Query("before"); v != "" {
		if q.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || q.BeforeID <= 0 {
			problems = append(problems, fmt.Sprintf("before must be a run id, not %q", v))
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > scriptlog.MaxLimit {
			problems = append(problems, fmt.Sprintf("limit must be between 1 and %d, not %q", scriptlog.MaxLimit, v))
		} else {
			q.Limit, f.Limit = n, n
		}
	}
	if len(problems) > 0 {
		return q, f, errors.New(strings.Join(problems, "; "))
	}
	return q, f, nil
}
