package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// remoteLog is a scriptlog.Recorder that records runs in the script log of
// a vigil server, through its API:
//
//	POST <server>/api/v1/script-runs             the start  -> 201 run
//	POST <server>/api/v1/script-runs/:id/finish  the end    -> 200 run
//
// with "Authorization: Bearer <token>". The server names the actor: the
// token's user. Exec hands it records that are already redacted; the server
// redacts them again with its config's secrets.
type remoteLog struct {
	base   *url.URL // the server's base URL, path without a trailing slash
	token  string
	client *http.Client
	// retryWait is the pause before retrying a finish that could not reach
	// the server; each retry doubles it.
	retryWait time.Duration
}

// remoteTimeout bounds each request to the server.
const remoteTimeout = 30 * time.Second

// maxRemoteResponse bounds how much of a server's answer is read: a run's
// output is capped at 1 MiB, so its JSON is far smaller.
const maxRemoteResponse = 16 << 20

// newRemoteLog returns a recorder for the vigil server at server (an
// http:// or https:// URL, optionally with a path prefix) that
// authenticates with token. It fails when server is not such a URL, or
// carries credentials, a query or a fragment, and when token is empty.
func newRemoteLog(server, token string) (*remoteLog, error) {
	u, err := parseServerURL(server)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("remote script log: empty token")
	}
	return &remoteLog{
		base:  u,
		token: token,
		client: &http.Client{
			Timeout: remoteTimeout,
			// A redirect could send the token elsewhere, or turn the
			// POST into a GET: the server URL must be the right one.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		retryWait: time.Second,
	}, nil
}

// parseServerURL reads --server: an absolute http(s) URL without user
// info, query or fragment.
func parseServerURL(server string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(server))
	switch {
	case err != nil:
		return nil, fmt.Errorf("--server: %w", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, fmt.Errorf("--server: %q is not an http:// or https:// URL", server)
	case u.User != nil:
		return nil, errors.New("--server: the URL must not carry credentials (use --token-file)")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("--server: %q must not have a query or a fragment", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// insecure reports whether the token would cross a network unencrypted:
// plain http to a host that is not loopback.
func (r *remoteLog) insecure() bool {
	if r.base.Scheme != "http" {
		return false
	}
	host := r.base.Hostname()
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// String names the server, for messages.
func (r *remoteLog) String() string { return r.base.String() }

// readTokenFile returns the API token in path, trimmed of surrounding
// white space. It refuses a regular file that other users can read (as ssh
// refuses such a key), an empty file and a token with white space inside.
// Its errors never quote the file's content.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if st.Mode().IsRegular() && st.Mode().Perm()&0o004 != 0 {
		return "", fmt.Errorf("--token-file: %s is readable by every user (mode %04o): chmod o-r it", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("--token-file: read %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case tok == "":
		return "", fmt.Errorf("--token-file: %s is empty", path)
	case strings.ContainsFunc(tok, unicode.IsSpace) || !utf8.ValidString(tok):
		return "", fmt.Errorf("--token-file: %s must hold one token, without spaces", path)
	}
	return tok, nil
}

// startRequest is the body of POST /api/v1/script-runs.
type startRequest struct {
	Purpose      string            `json:"purpose"`
	Ticket       string            `json:"ticket"`
	Target       string            `json:"target"`
	Script       string            `json:"script"`
	Args         []string          `json:"args"`
	ScriptSHA256 string            `json:"script_sha256,omitempty"`
	EnvNames     []string          `json:"env_names"`
	Env          map[string]string `json:"env"`
}

// finishRequest is the body of POST /api/v1/script-runs/:id/finish.
type finishRequest struct {
	ExitCode     int              `json:"exit_code"`
	Output       string           `json:"output,omitempty"`
	OutputBase64 string           `json:"output_base64,omitempty"`
	OutputBytes  int64            `json:"output_bytes"`
	Status       scriptlog.Status `json:"status"`
}

// Start records the start of rec on the server and returns the run as the
// server stored it (its ID, actor and chain hashes). rec.Script must be
// the command line of the command and rec.Inputs.Args, as Exec makes it.
// Any failure to get a 201 is an error: the command must then not run.
func (r *remoteLog) Start(ctx context.Context, rec scriptlog.Record) (scriptlog.Record, error) {
	command, err := commandOf(rec)
	if err != nil {
		return scriptlog.Record{}, err
	}
	body := startRequest{
		Purpose: rec.Purpose, Ticket: rec.Ticket, Target: rec.Target,
		Script: command, Args: rec.Inputs.Args, ScriptSHA256: rec.ScriptSHA256,
		EnvNames: []string{}, Env: map[string]string{},
	}
	if body.Args == nil {
		body.Args = []string{}
	}
	for _, e := range rec.Inputs.Env {
		body.EnvNames = append(body.EnvNames, e.Name)
		if !e.Unset {
			body.Env[e.Name] = e.Value
		}
	}
	var run scriptlog.JSON
	if err := r.post(ctx, "/api/v1/script-runs", body, http.StatusCreated, &run); err != nil {
		return scriptlog.Record{}, fmt.Errorf("remote script log: start: %w", err)
	}
	if run.ID <= 0 {
		return scriptlog.Record{}, fmt.Errorf("remote script log: start: %s answered without a run id", r)
	}
	return fromJSON(run)
}

// Finish records the end of run rec.ID (exit code, status, output and its
// size) and returns the whole run as the server stored it. It retries a
// few times, within ctx, when the server cannot be reached or answers 502,
// 503 or 504; when a retry finds the run already finished (the earlier
// attempt reached it), it returns the stored run.
func (r *remoteLog) Finish(ctx context.Context, rec scriptlog.Record) (scriptlog.Record, error) {
	body := finishRequest{ExitCode: rec.ExitCode, OutputBytes: rec.OutputBytes, Status: rec.Status}
	body.Output, body.OutputBase64 = encodeOutput(rec.Output)
	path := "/api/v1/script-runs/" + strconv.FormatInt(rec.ID, 10)
	wait := r.retryWait
	for attempt := 1; ; attempt++ {
		var run scriptlog.JSON
		err := r.post(ctx, path+"/finish", body, http.StatusOK, &run)
		var se *statusError
		switch {
		case err == nil:
			return fromJSON(run)
		case attempt > 1 && errors.As(err, &se) && se.code == http.StatusConflict:
			if err := r.get(ctx, path, &run); err != nil {
				return scriptlog.Record{}, fmt.Errorf("remote script log: finish run %d: %w", rec.ID, err)
			}
			return fromJSON(run)
		case attempt >= 3 || !retryable(err):
			return scriptlog.Record{}, fmt.Errorf("remote script log: finish run %d: %w", rec.ID, err)
		}
		select {
		case <-ctx.Done():
			return scriptlog.Record{}, fmt.Errorf("remote script log: finish run %d: %w (then %w)", rec.ID, err, ctx.Err())
		case <-time.After(wait):
			wait *= 2
		}
	}
}

// statusError is an answer other than the expected status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.code, http.StatusText(e.code), e.msg)
}

// retryable reports whether a request may succeed if sent again: the
// server was unreachable, or a proxy in front of it said so.
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code == http.StatusBadGateway || se.code == http.StatusServiceUnavailable || se.code == http.StatusGatewayTimeout
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

// encodeOutput returns out as the finish request carries it: as text when
// it is UTF-8, unless base64 is shorter (output full of control characters,
// which JSON escapes six bytes each), else as base64.
func encodeOutput(out []byte) (text, b64 string) {
	b64 = base64.StdEncoding.EncodeToString(out)
	if !utf8.Valid(out) {
		return "", b64
	}
	if j, err := json.Marshal(string(out)); err == nil && len(j) <= len(b64) {
		return string(out), ""
	}
	return "", b64
}

// commandOf returns the command (argv[0], redacted) of a record Exec made:
// its Script is the command line of the command followed by Inputs.Args.
func commandOf(rec scriptlog.Record) (string, error) {
	first := rec.Script
	if len(rec.Inputs.Args) > 0 {
		var ok bool
		first, ok = strings.CutSuffix(rec.Script, " "+scriptlog.CommandLine(rec.Inputs.Args))
		if !ok {
			first = ""
		}
	}
	if rest, ok := strings.CutPrefix(first, "'"); ok && strings.HasSuffix(rest, "'") && len(rest) > 0 {
		first = strings.ReplaceAll(strings.TrimSuffix(rest, "'"), `'\''`, "'")
	}
	if first == "" || scriptlog.CommandLine(append([]string{first}, rec.Inputs.Args...)) != rec.Script {
		return "", fmt.Errorf("remote script log: %w: the command line %q does not end with the arguments", scriptlog.ErrInvalid, rec.Script)
	}
	return first, nil
}

// fromJSON turns the server's run into a Record.
func fromJSON(j scriptlog.JSON) (scriptlog.Record, error) {
	rec := scriptlog.Record{
		ID: j.ID, Script: j.Script, ScriptSHA256: j.ScriptSHA256, Actor: j.Actor, Purpose: j.Purpose,
		Ticket: j.Ticket, Target: j.Target, Inputs: j.Inputs, StartedAt: j.StartedAt,
		Status: scriptlog.Status(j.Status), OutputBytes: j.OutputBytes, Hash: j.Hash, PrevHash: j.PrevHash,
		Duration: time.Duration(j.DurationMS) * time.Millisecond,
	}
	if j.EndedAt != nil {
		rec.EndedAt = *j.EndedAt
	}
	if j.ExitCode != nil {
		rec.ExitCode = *j.ExitCode
	}
	switch {
	case j.Output != nil:
		rec.Output = []byte(*j.Output)
	case j.OutputBase64 != "":
		out, err := base64.StdEncoding.DecodeString(j.OutputBase64)
		if err != nil {
			return scriptlog.Record{}, fmt.Errorf("remote script log: run %d: output_base64: %w", j.ID, err)
		}
		rec.Output = out
	}
	return rec, nil
}

// post sends body as JSON to path and decodes the answer into out when its
// status is want.
func (r *remoteLog) post(ctx context.Context, path string, body any, want int, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	return r.do(ctx, http.MethodPost, path, b, want, out)
}

// get decodes the answer of GET path into out.
func (r *remoteLog) get(ctx context.Context, path string, out any) error {
	return r.do(ctx, http.MethodGet, path, nil, http.StatusOK, out)
}

func (r *remoteLog) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	u := *r.base
	u.Path += path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return r.hide(err) // a *url.Error: it names the URL, never the token
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteResponse))
	if err != nil {
		return r.hide(fmt.Errorf("%s %s: read the answer: %w", method, u.Path, err))
	}
	if resp.StatusCode != want {
		return r.hide(&statusError{code: resp.StatusCode, msg: answerMessage(resp, data)})
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not a script run: %w", method, u.Path, err)
	}
	return nil
}

// answerMessage is what an unexpected answer says: the API's {"error":
// msg}, else the start of its body, else where a redirect pointed.
func answerMessage(resp *http.Response, body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		return "redirected to " + loc + " (is --server the vigil server's base URL?)"
	}
	msg := strings.TrimSpace(strings.ToValidUTF8(string(body), "?"))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = "no message"
	}
	return msg
}

// hide masks the token in err's message, should a server or proxy ever
// echo it; errors.As still reaches err's chain.
func (r *remoteLog) hide(err error) error {
	if !strings.Contains(err.Error(), r.token) {
		return err
	}
	return &hiddenError{err: err, msg: strings.ReplaceAll(err.Error(), r.token, "[REDACTED]")}
}

type hiddenError struct {
	err error
	msg string
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() error { return e.err }
