package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// remoteToken is an API token of a test server, and the file holding it.
type remoteToken struct {
	token, file string
}

// newToken writes a fresh random token to a 0600 file in dir.
func newToken(t *testing.T, dir, name string) remoteToken {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	tok := hex.EncodeToString(b)
	path := filepath.Join(dir, name+".token")
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return remoteToken{token: tok, file: path}
}

// remoteServer is a running `vigil serve` with an operator token (ci) and
// a viewer token (support).
type remoteServer struct {
	url         string // the server, through the wire log
	directURL   string // the server itself
	wire        *wireLog
	ci, support remoteToken
	stranger    remoteToken // a token the server does not know
	tokensDir   string
	serverPID   int
}

// startRemoteServer starts `vigil serve` with API tokens and returns it,
// reached through a proxy that keeps every request body.
func startRemoteServer(t *testing.T) *remoteServer {
	t.Helper()
	dir := t.TempDir()
	s := &remoteServer{tokensDir: t.TempDir(), wire: &wireLog{}}
	s.ci = newToken(t, s.tokensDir, "ci")
	s.support = newToken(t, s.tokensDir, "support")
	s.stranger = newToken(t, s.tokensDir, "stranger")
	hash := func(tok remoteToken) string {
		sum := sha256.Sum256([]byte(tok.token))
		return hex.EncodeToString(sum[:])
	}
	writeFiles(t, dir, map[string]string{"scriptlog.key": testScriptlogKey, "vigil.yaml": `
datasources: {}
checks:
  - {id: api, kind: http, url: "http://127.0.0.1:1/", schedule: "@every 1h"}
scriptlog: {key_file: scriptlog.key}
auth:
  tokens:
    - {name: ci, token_sha256: ` + hash(s.ci) + `, role: operator}
    - {name: support, token_sha256: ` + hash(s.support) + `, role: viewer}
`})
	cmd, base, _ := startServe(t, filepath.Join(dir, "vigil.yaml"))
	s.directURL, s.serverPID = base, cmd.Process.Pid
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // a server stopped on purpose is a 502, not news
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.wire.add(r.Method+" "+r.URL.Path, body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	s.url = front.URL
	return s
}

// wireLog keeps the requests clients sent.
type wireLog struct {
	mu       sync.Mutex
	requests []string
	bodies   [][]byte
}

func (w *wireLog) add(request string, body []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests = append(w.requests, request)
	w.bodies = append(w.bodies, body)
}

// since returns the requests and bodies from the n-th on.
func (w *wireLog) since(n int) ([]string, [][]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.requests[n:]...), append([][]byte(nil), w.bodies[n:]...)
}

func (w *wireLog) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.requests)
}

// apiGet decodes GET path from the server (bypassing the wire log) into out.
func (s *remoteServer) apiGet(t *testing.T, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.directURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.ci.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

// TestExecRemoteRecordsOnServer runs `vigil exec --server` against a real
// `vigil serve`: the run is recorded there with the token's user as the
// actor, and nothing secret crosses the wire.
func TestExecRemoteRecordsOnServer(t *testing.T) {
	srv := startRemoteServer(t)
	secrets := []string{"Hunter2-Secret", "Env-Secret-99", srv.ci.token}
	tests := []struct {
		name        string
		env         []string
		flags       []string // between the server flags and "--"
		argv        []string
		wantCode    int
		wantStdout  string
		wantStatus  scriptlog.Status
		wantScript  string
		wantOutput  string
		wantEnv     []scriptlog.EnvVar
		wantCrossed int // requests sent: start and finish
	}{
		{
			name:       "failure with output",
			flags:      []string{"--ticket", "OPS-1", "--target", "policies"},
			argv:       []string{"sh", "-c", "echo hi; exit 3"},
			wantCode:   3,
			wantStdout: "hi\n",
			wantStatus: "failed",
			wantScript: "sh -c 'echo hi; exit 3'",
			wantOutput: "hi\n",
			wantEnv:    []scriptlog.EnvVar{},
		},
		{
			name:       "success",
			argv:       []string{"true"},
			wantStatus: "success",
			wantScript: "true",
			wantEnv:    []scriptlog.EnvVar{},
		},
		{
			name:  "secrets are redacted before they leave",
			env:   []string{"DB_PASSWORD=Env-Secret-99", "REGION=eu-west-1"},
			flags: []string{"--env", "DB_PASSWORD", "--env", "REGION", "--env", "UNSET_ONE"},
			// The script prints an argument's password, a secret variable
			// and the API token itself.
			argv:       []string{"sh", "-c", `echo "$1 $DB_PASSWORD"; cat "$2"`, "sh", "--password=Hunter2-Secret", srv.ci.file},
			wantStdout: "--password=Hunter2-Secret Env-Secret-99\n" + srv.ci.token + "\n",
			wantStatus: "success",
			wantScript: `sh -c 'echo "$1 $DB_PASSWORD"; cat "$2"' sh --password=[REDACTED] ` + srv.ci.file,
			wantOutput: "--password=[REDACTED] [REDACTED]\n[REDACTED]\n",
			wantEnv: []scriptlog.EnvVar{
				{Name: "DB_PASSWORD", Value: "[REDACTED]"},
				{Name: "REGION", Value: "eu-west-1"},
				{Name: "UNSET_ONE", Unset: true},
			},
		},
		{
			name:       "binary output",
			argv:       []string{"sh", "-c", `printf '\377\000ok'`},
			wantStdout: "\xff\x00ok",
			wantStatus: "success",
			wantScript: `sh -c 'printf '\''\377\000ok'\'''`,
			wantOutput: "\xff\x00ok",
			wantEnv:    []scriptlog.EnvVar{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			purpose := "remote " + tt.name
			before := srv.wire.len()
			args := append([]string{"exec", "--server", srv.url, "--token-file", srv.ci.file, "--purpose", purpose}, tt.flags...)
			stdout, stderr, code := vigil(t, tt.env, append(append(args, "--"), tt.argv...)...)
			if code != tt.wantCode || stdout != tt.wantStdout {
				t.Fatalf("exit %d, stdout %q; want %d, %q\nstderr: %s", code, stdout, tt.wantCode, tt.wantStdout, stderr)
			}
			if strings.Contains(stderr, srv.ci.token) {
				t.Errorf("stderr shows the token: %s", stderr)
			}
			id := runID(t, stderr)

			var run scriptlog.JSON
			srv.apiGet(t, "/api/v1/script-runs/"+strconv.FormatInt(id, 10), &run)
			if run.Actor != "token:ci" || run.Purpose != purpose || run.Status != tt.wantStatus ||
				run.ExitCode == nil || *run.ExitCode != tt.wantCode || run.Script != tt.wantScript {
				t.Errorf("run = actor %q purpose %q status %q exit %v script %q; want token:ci, %q, %s, %d, %q",
					run.Actor, run.Purpose, run.Status, run.ExitCode, run.Script, purpose, tt.wantStatus, tt.wantCode, tt.wantScript)
			}
			if got := output(t, run); string(got) != tt.wantOutput {
				t.Errorf("output = %q; want %q", got, tt.wantOutput)
			}
			if env, _ := json.Marshal(run.Inputs.Env); !bytes.Equal(env, mustJSON(t, tt.wantEnv)) {
				t.Errorf("inputs.env = %s; want %s", env, mustJSON(t, tt.wantEnv))
			}
			var listed []scriptlog.JSON
			srv.apiGet(t, "/api/v1/script-runs?actor=token:ci&purpose="+url.QueryEscape(purpose), &listed)
			if len(listed) != 1 || listed[0].ID != id || listed[0].Status != tt.wantStatus {
				t.Errorf("GET /api/v1/script-runs lists %+v; want run %d alone", listed, id)
			}

			requests, bodies := srv.wire.since(before)
			want := []string{"POST /api/v1/script-runs", "POST /api/v1/script-runs/" + strconv.FormatInt(id, 10) + "/finish"}
			if strings.Join(requests, "\n") != strings.Join(want, "\n") {
				t.Fatalf("requests sent = %q; want %q", requests, want)
			}
			for i, body := range bodies {
				for _, s := range secrets {
					if bytes.Contains(body, []byte(s)) {
						t.Errorf("%s sent the secret %q: %s", requests[i], s, body)
					}
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExecRemoteRefuses proves that vigil exec --server never runs a
// command it cannot record, and never shows the token: the command would
// create a file.
func TestExecRemoteRefuses(t *testing.T) {
	srv := startRemoteServer(t)
	down := closedPortURL(t)
	worldReadable := newToken(t, t.TempDir(), "shared")
	if err := os.Chmod(worldReadable.file, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(srv.tokensDir, "empty.token")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string // before "--purpose"
		wantStderr string
		token      string // must not be shown
	}{
		{name: "viewer token", args: []string{"--server", srv.url, "--token-file", srv.support.file},
			wantStderr: "403 Forbidden: forbidden: this needs the operator role", token: srv.support.token},
		{name: "unknown token", args: []string{"--server", srv.url, "--token-file", srv.stranger.file},
			wantStderr: "401 Unauthorized: invalid token", token: srv.stranger.token},
		{name: "server down", args: []string{"--server", down, "--token-file", srv.ci.file},
			wantStderr: "connection refused", token: srv.ci.token},
		{name: "not the API's base URL", args: []string{"--server", srv.url + "/nothing", "--token-file", srv.ci.file},
			wantStderr: "404 Not Found", token: srv.ci.token},
		{name: "world-readable token file", args: []string{"--server", srv.url, "--token-file", worldReadable.file},
			wantStderr: "readable by every user (mode 0644)", token: worldReadable.token},
		{name: "missing token file", args: []string{"--server", srv.url, "--token-file", filepath.Join(srv.tokensDir, "nope")},
			wantStderr: "no such file or directory"},
		{name: "empty token file", args: []string{"--server", srv.url, "--token-file", empty},
			wantStderr: "is empty"},
		{name: "not an http URL", args: []string{"--server", "ftp://" + strings.TrimPrefix(srv.url, "http://"), "--token-file", srv.ci.file},
			wantStderr: "is not an http:// or https:// URL", token: srv.ci.token},
		{name: "credentials in the URL", args: []string{"--server", "http://ci:pw@" + strings.TrimPrefix(srv.url, "http://"), "--token-file", srv.ci.file},
			wantStderr: "must not carry credentials", token: srv.ci.token},
		{name: "server and config", args: []string{"--server", srv.url, "--token-file", srv.ci.file, "-c", "vigil.yaml"},
			wantStderr: "--server and -c are mutually exclusive", token: srv.ci.token},
		{name: "server without token", args: []string{"--server", srv.url},
			wantStderr: "--server needs --token-file"},
		{name: "token without server", args: []string{"--token-file", srv.ci.file},
			wantStderr: "--token-file needs --server", token: srv.ci.token},
		{name: "actor with server", args: []string{"--server", srv.url, "--token-file", srv.ci.file, "--actor", "alice"},
			wantStderr: "--actor cannot be used with --server", token: srv.ci.token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			purpose := "refused " + tt.name
			args := append(append([]string{"exec"}, tt.args...), "--purpose", purpose, "--", "touch", marker)
			_, stderr, code := vigil(t, nil, args...)
			if code != exitBroken || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.wantStderr)
			}
			if tt.token != "" && strings.Contains(stderr, tt.token) {
				t.Errorf("stderr shows the token: %s", stderr)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the command ran although it was not recorded (stat: %v)", err)
			}
			var listed []scriptlog.JSON
			srv.apiGet(t, "/api/v1/script-runs?purpose="+url.QueryEscape(purpose), &listed)
			if len(listed) != 0 {
				t.Errorf("the server recorded %+v", listed)
			}
		})
	}
}

// closedPortURL returns the URL of a loopback port that nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestExecRemoteServerDiesDuringRun stops the server while the command
// runs: the command's exit code still wins, and vigil says the end could
// not be recorded instead of claiming it was.
func TestExecRemoteServerDiesDuringRun(t *testing.T) {
	srv := startRemoteServer(t)
	argv := []string{"sh", "-c", "kill -KILL " + strconv.Itoa(srv.serverPID) + "; sleep 0.2; exit 4"}
	args := append([]string{"exec", "--server", srv.url, "--token-file", srv.ci.file, "--purpose", "outlive the server", "--"}, argv...)
	_, stderr, code := vigil(t, nil, args...)
	if code != 4 {
		t.Fatalf("exit %d; want the command's 4\n%s", code, stderr)
	}
	// Run 2: entry 1 of the server's keyed log is the checkpoint that starts it.
	if !strings.Contains(stderr, "record the end of run 2: remote script log: finish run 2: ") || strings.Contains(stderr, "recorded script run") {
		t.Errorf("stderr = %q; want the finish failure and no claim that the run was recorded", stderr)
	}
	if strings.Contains(stderr, srv.ci.token) {
		t.Errorf("stderr shows the token: %s", stderr)
	}
}

func TestCommandOf(t *testing.T) {
	tests := []struct {
		name string
		argv []string
	}{
		{name: "plain", argv: []string{"psql", "-f", "fix.sql"}},
		{name: "no arguments", argv: []string{"true"}},
		{name: "path with a space", argv: []string{"/opt/my tools/fix.sh", "--dry-run"}},
		{name: "command with a quote", argv: []string{"it's", "a", "'quoted' arg"}},
		{name: "empty arguments", argv: []string{"echo", "", ""}},
		{name: "redacted argument", argv: []string{"mysql", "--password=[REDACTED]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := scriptlog.Record{Script: scriptlog.CommandLine(tt.argv), Inputs: scriptlog.Inputs{Args: tt.argv[1:]}}
			got, err := commandOf(rec)
			if err != nil || got != tt.argv[0] {
				t.Errorf("commandOf(%q) = %q, %v; want %q", rec.Script, got, err, tt.argv[0])
			}
		})
	}
	t.Run("arguments that are not the command line's", func(t *testing.T) {
		rec := scriptlog.Record{Script: "sh -c 'echo hi'", Inputs: scriptlog.Inputs{Args: []string{"-c", "echo bye"}}}
		if got, err := commandOf(rec); !errors.Is(err, scriptlog.ErrInvalid) {
			t.Errorf("commandOf = %q, %v; want ErrInvalid", got, err)
		}
	})
}
