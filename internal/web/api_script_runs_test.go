package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/scriptlog"
)

const (
	viewerToken   = "viewer-token-0123456789abcdef0123456789"
	operatorToken = "operator-token-0123456789abcdef012345678"
	operatorActor = "token:operator-bot" // the operator token's name, as an actor

	// Secrets of scriptRunConfig that only the config knows: the built-in
	// redaction rules would not find them in free text.
	warehousePassword = "Wh-s3cret-77x"
	sentryKey         = "f00dfacef00dface"
)

// scriptRunConfig is authConfig with secrets in its datasources and sinks.
func scriptRunConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := authConfig(t, "http://127.0.0.1:8080")
	cfg.Datasources = map[string]config.Datasource{
		"warehouse": {Name: "warehouse", Driver: config.DriverMySQL, DSN: "vigil:" + warehousePassword + "@tcp(db:3306)/wh"},
		"local":     {Name: "local", Driver: config.DriverSQLite, DSN: "/var/lib/vigil/policies.db"},
	}
	cfg.Sinks.Sentry.DSN = "https://" + sentryKey + "@o1.ingest.sentry.io/42"
	cfg.Sinks.Slack.WebhookURL = "https://hooks.slack.com/services/T000/B000/slackhooksecret"
	return cfg
}

// call sends a request with a JSON body (nil: none) as the holder of token
// (empty: none), or with c's cookies when c is not nil.
func call(f *fixture, c *client, method, target, token string, body any, headers ...string) response {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.(string)
		if !ok {
			raw, err := json.Marshal(body)
			if err != nil {
				f.t.Fatalf("encode body: %v", err)
			}
			b = string(raw)
		}
		rd = strings.NewReader(b)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Host = "127.0.0.1:8080"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c != nil {
		for _, ck := range c.cookies {
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		}
	}
	resp, err := f.s.Test(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return response{Response: resp, body: string(b)}
}

// decode reads r's body as JSON into a new T, failing on status != want.
func decode[T any](t *testing.T, r response, want int) T {
	t.Helper()
	var v T
	if r.StatusCode != want {
		t.Fatalf("status %d, want %d\n%s", r.StatusCode, want, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, r.body)
	}
	return v
}

// startRun starts a run through the API as the operator token.
func startRun(f *fixture, body map[string]any) scriptlog.JSON {
	f.t.Helper()
	return decode[scriptlog.JSON](f.t, call(f, nil, http.MethodPost, "/api/v1/script-runs", operatorToken, body), http.StatusCreated)
}

// finishRun finishes run id through the API as the operator token.
func finishRun(f *fixture, id int64, body map[string]any) scriptlog.JSON {
	f.t.Helper()
	return decode[scriptlog.JSON](f.t, call(f, nil, http.MethodPost, fmt.Sprintf("/api/v1/script-runs/%d/finish", id), operatorToken, body), http.StatusOK)
}

// scriptLogOf is the fixture store's script log.
func scriptLogOf(f *fixture) *scriptlog.SQL {
	f.t.Helper()
	log, err := scriptlog.NewSQL(f.store.DB(), f.store.Driver(), scriptlog.Key{})
	if err != nil {
		f.t.Fatalf("NewSQL: %v", err)
	}
	return log
}

func TestScriptRunStartRoles(t *testing.T) {
	f := newFixture(t, scriptRunConfig(t), nil)
	body := map[string]any{"purpose": "backfill", "script": "./fix.sh"}
	tests := []struct {
		name   string
		token  string
		header string // a raw Authorization header instead of token
		want   int
	}{
		{name: "operator token", token: operatorToken, want: http.StatusCreated},
		{name: "viewer token", token: viewerToken, want: http.StatusForbidden},
		// Without a token the request is a browser's, and the CSRF check
		// (which runs before any role check) refuses it.
		{name: "no token", want: http.StatusForbidden},
		{name: "unknown token", token: "not-a-token-0123456789abcdef0123456789", want: http.StatusUnauthorized},
		{name: "not bearer", header: "Basic b3NjYXI6b3NjYXItcHc=", want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.header != "" {
				headers = []string{"Authorization", tt.header}
			}
			r := call(f, nil, http.MethodPost, "/api/v1/script-runs", tt.token, body, headers...)
			if r.StatusCode != tt.want {
				t.Fatalf("status %d, want %d\n%s", r.StatusCode, tt.want, r.body)
			}
			if tt.want != http.StatusCreated {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
					t.Errorf("want a JSON error, got %q", r.body)
				}
			}
		})
	}
	runs, err := scriptLogOf(f).Search(context.Background(), scriptlog.Query{})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if len(runs) != 1 || runs[0].Actor != operatorActor {
		t.Errorf("runs recorded: %+v, want one by %s", runs, operatorActor)
	}
}

func TestScriptRunStartRejects(t *testing.T) {
	f := newFixture(t, scriptRunConfig(t), nil)
	tests := []struct {
		name string
		body any
		want string // in the error message
	}{
		{name: "no purpose", body: map[string]any{"script": "./fix.sh"}, want: "purpose is required"},
		{name: "blank purpose", body: map[string]any{"purpose": "  \t", "script": "./fix.sh"}, want: "purpose is required"},
		{name: "no script", body: map[string]any{"purpose": "backfill"}, want: "script is required"},
		{name: "actor in the body", body: map[string]any{"purpose": "backfill", "script": "x", "actor": "mallory"}, want: `unknown field "actor"`},
		{name: "bad sha256", body: map[string]any{"purpose": "backfill", "script": "x", "script_sha256": "abc"}, want: "script_sha256"},
		{name: "args not a list", body: map[string]any{"purpose": "backfill", "script": "x", "args": "-n"}, want: "invalid JSON"},
		{name: "not JSON", body: "purpose=backfill", want: "invalid JSON"},
		{name: "two objects", body: `{"purpose":"a","script":"x"} {}`, want: "data after the object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(f, nil, http.MethodPost, "/api/v1/script-runs", operatorToken, tt.body)
			e := decode[struct{ Error string }](t, r, http.StatusBadRequest)
			if !strings.Contains(e.Error, tt.want) {
				t.Errorf("error %q, want it to contain %q", e.Error, tt.want)
			}
		})
	}
	runs, err := scriptLogOf(f).Search(context.Background(), scriptlog.Query{})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if len(runs) != 0 {
		t.Errorf("rejected starts were recorded: %+v", runs)
	}
}

func TestScriptRunRedaction(t *testing.T) {
	f := newFixture(t, scriptRunConfig(t), nil)
	secrets := []string{warehousePassword, sentryKey, "slackhooksecret", "hunter22x", "pgsecret99", "tok-abcdef123456", "AKIAABCDEFGHIJKLMNOP"}
	run := startRun(f, map[string]any{
		"purpose":   "rotate " + warehousePassword,
		"ticket":    "OPS-1",
		"target":    "warehouse",
		"script":    "mysql",
		"args":      []string{"--password=hunter22x", "--token", "tok-abcdef123456", "-h", "db", "--note", "uses " + warehousePassword},
		"env":       map[string]string{"PGPASSWORD": "pgsecret99", "REGION": "eu-west-1", "NOTE": "sentry " + sentryKey},
		"env_names": []string{"REGION", "PGPASSWORD", "MISSING"},
	})
	out := "connecting as vigil/" + warehousePassword + "\n" +
		"aws key AKIAABCDEFGHIJKLMNOP\n" +
		"posting to https://hooks.slack.com/services/T000/B000/slackhooksecret\n" +
		"done <ok>\n"
	finishRun(f, run.ID, map[string]any{"exit_code": 0, "output": out})

	got, err := scriptLogOf(f).Get(context.Background(), run.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	inputs, _ := json.Marshal(got.Inputs)
	stored := strings.Join([]string{got.Script, got.Purpose, got.Ticket, got.Target, string(inputs), string(got.Output)}, "\n")
	for _, s := range secrets {
		if strings.Contains(stored, s) {
			t.Errorf("secret %q stored:\n%s", s, stored)
		}
	}
	// Every entry of the chain, as stored, is clean too.
	err = scriptLogOf(f).Walk(context.Background(), func(e scriptlog.Entry) error {
		raw := fmt.Sprintf("%+v %s", e, e.Output)
		for _, s := range secrets {
			if strings.Contains(raw, s) {
				t.Errorf("secret %q in entry %d", s, e.Seq)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}

	wantEnv := []scriptlog.EnvVar{
		{Name: "REGION", Value: "eu-west-1"},
		{Name: "PGPASSWORD", Value: scriptlog.Mask},
		{Name: "MISSING", Unset: true},
		{Name: "NOTE", Value: "sentry " + scriptlog.Mask},
	}
	if !slices.Equal(got.Inputs.Env, wantEnv) {
		t.Errorf("env = %+v, want %+v", got.Inputs.Env, wantEnv)
	}
	wantArgs := []string{"--password=" + scriptlog.Mask, "--token", scriptlog.Mask, "-h", "db", "--note", "uses " + scriptlog.Mask}
	if !slices.Equal(got.Inputs.Args, wantArgs) {
		t.Errorf("args = %q, want %q", got.Inputs.Args, wantArgs)
	}
	if want := "mysql --password=[REDACTED] --token [REDACTED] -h db --note 'uses [REDACTED]'"; got.Script != want {
		t.Errorf("script = %q, want %q", got.Script, want)
	}
	if !strings.Contains(string(got.Output), "done <ok>") || got.Actor != operatorActor {
		t.Errorf("output %q by %q: want the text kept and the token's actor", got.Output, got.Actor)
	}
}

func TestScriptRunFinish(t *testing.T) {
	f := newFixture(t, scriptRunConfig(t), nil)
	start := func() int64 {
		t.Helper()
		return startRun(f, map[string]any{"purpose": "fix", "script": "./fix.sh"}).ID
	}
	tests := []struct {
		name       string
		body       any
		wantStatus int
		want       scriptlog.Status // when 200
		wantExit   int
	}{
		{name: "exit 0 is success", body: map[string]any{"exit_code": 0, "output": "ok"}, wantStatus: 200, want: scriptlog.Success},
		{name: "non-zero is failed", body: map[string]any{"exit_code": 3}, wantStatus: 200, want: scriptlog.Failed, wantExit: 3},
		{name: "interrupted as said", body: map[string]any{"exit_code": 130, "status": "interrupted"}, wantStatus: 200, want: scriptlog.Interrupted, wantExit: 130},
		{name: "running is no end", body: map[string]any{"exit_code": 0, "status": "running"}, wantStatus: 400},
		{name: "unknown status", body: map[string]any{"exit_code": 0, "status": "meh"}, wantStatus: 400},
		{name: "no exit code", body: map[string]any{"output": "x"}, wantStatus: 400},
		{name: "bad base64", body: map[string]any{"exit_code": 0, "output_base64": "!!"}, wantStatus: 400},
		{name: "both outputs", body: map[string]any{"exit_code": 0, "output": "a", "output_base64": "YQ=="}, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := start()
			f.clock.Add(1500 * time.Millisecond)
			r := call(f, nil, http.MethodPost, fmt.Sprintf("/api/v1/script-runs/%d/finish", id), operatorToken, tt.body)
			if tt.wantStatus != http.StatusOK {
				decode[struct{ Error string }](t, r, tt.wantStatus)
				got, err := scriptLogOf(f).Get(context.Background(), id)
				if err != nil || got.Status != scriptlog.Running {
					t.Errorf("after a rejected finish the run is %q (%v), want running", got.Status, err)
				}
				return
			}
			got := decode[scriptlog.JSON](t, r, http.StatusOK)
			if got.Status != tt.want || got.ExitCode == nil || *got.ExitCode != tt.wantExit || got.DurationMS != 1500 {
				t.Errorf("finished as %s, exit %v, %d ms; want %s, exit %d, 1500 ms", got.Status, got.ExitCode, got.DurationMS, tt.want, tt.wantExit)
			}
		})
	}

	t.Run("twice", func(t *testing.T) {
		id := start()
		finishRun(f, id, map[string]any{"exit_code": 0})
		r := call(f, nil, http.MethodPost, fmt.Sprintf("/api/v1/script-runs/%d/finish", id), operatorToken, map[string]any{"exit_code": 1})
		decode[struct{ Error string }](t, r, http.StatusConflict)
	})
	t.Run("unknown run", func(t *testing.T) {
		for _, id := range []string{"9999", "abc", "0"} {
			r := call(f, nil, http.MethodPost, "/api/v1/script-runs/"+id+"/finish", operatorToken, map[string]any{"exit_code": 0})
			decode[struct{ Error string }](t, r, http.StatusNotFound)
		}
	})
	t.Run("viewer", func(t *testing.T) {
		id := start()
		r := call(f, nil, http.MethodPost, fmt.Sprintf("/api/v1/script-runs/%d/finish", id), viewerToken, map[string]any{"exit_code": 0})
		decode[struct{ Error string }](t, r, http.StatusForbidden)
	})
	t.Run("another operator", func(t *testing.T) {
		id := start()
		c := f.loggedIn("oscar")
		tok := c.csrf("/")
		r := call(f, c, http.MethodPost, fmt.Sprintf("/api/v1/script-runs/%d/finish", id), "", map[string]any{"exit_code": 0}, "X-CSRF-Token", tok)
		decode[struct{ Error string }](t, r, http.StatusForbidden)
	})
	t.Run("admin", func(t *testing.T) {
		id := start()
		c := f.loggedIn("alice")
		tok := c.csrf("/")
		r := call(f, c, http.MethodPost, fmt.Sprintf("/api/v1/script-runs/%d/finish", id), "", map[string]any{"exit_code": 0}, "X-CSRF-Token", tok)
		if got := decode[scriptlog.JSON](t, r, http.StatusOK); got.Actor != operatorActor {
			t.Errorf("actor %q after an admin finished it, want the starter %q", got.Actor, operatorActor)
		}
	})
	t.Run("session without csrf", func(t *testing.T) {
		c := f.loggedIn("oscar")
		r := call(f, c, http.MethodPost, "/api/v1/script-runs", "", map[string]any{"purpose": "x", "script": "y"})
		decode[struct{ Error string }](t, r, http.StatusForbidden)
	})
}

func TestScriptRunGet(t *testing.T) {
	f := newFixture(t, scriptRunConfig(t), nil)
	text := startRun(f, map[string]any{"purpose": "text", "script": "echo", "args": []string{"hi"}})
	finishRun(f, text.ID, map[string]any{"exit_code": 0, "output": "hi\n", "output_bytes": 5000})
	binary := startRun(f, map[string]any{"purpose": "binary", "script": "cat", "script_sha256": strings.Repeat("AB", 32)})
	raw := []byte{0xff, 0x00, 'o', 'k', 0xfe}
	finishRun(f, binary.ID, map[string]any{"exit_code": 0, "output_base64": base64.StdEncoding.EncodeToString(raw)})
	running := startRun(f, map[string]any{"purpose": "still going", "script": "sleep"})

	t.Run("text output", func(t *testing.T) {
		got := decode[scriptlog.JSON](t, call(f, nil, http.MethodGet, fmt.Sprintf("/api/v1/script-runs/%d", text.ID), viewerToken, nil), http.StatusOK)
		if got.Output == nil || *got.Output != "hi\n" || got.OutputBytes != 5000 || got.Script != "echo hi" || got.Hash == "" || got.PrevHash == "" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("binary output", func(t *testing.T) {
		got := decode[scriptlog.JSON](t, call(f, nil, http.MethodGet, fmt.Sprintf("/api/v1/script-runs/%d", binary.ID), viewerToken, nil), http.StatusOK)
		b, err := base64.StdEncoding.DecodeString(got.OutputBase64)
		if err != nil || !bytes.Equal(b, raw) || got.Output != nil {
			t.Errorf("output %v / %q, want base64 of %v", got.Output, got.OutputBase64, raw)
		}
		if got.ScriptSHA256 != strings.Repeat("ab", 32) {
			t.Errorf("script_sha256 = %q, want it lower case", got.ScriptSHA256)
		}
	})
	t.Run("running", func(t *testing.T) {
		r := call(f, nil, http.MethodGet, fmt.Sprintf("/api/v1/script-runs/%d", running.ID), viewerToken, nil)
		got := decode[map[string]any](t, r, http.StatusOK)
		if got["status"] != "running" || got["ended_at"] != nil || got["exit_code"] != nil {
			t.Errorf("running run = %v, want status running, ended_at and exit_code null", got)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		for _, id := range []string{"999", "x", "-1"} {
			decode[struct{ Error string }](t, call(f, nil, http.MethodGet, "/api/v1/script-runs/"+id, viewerToken, nil), http.StatusNotFound)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		decode[struct{ Error string }](t, call(f, nil, http.MethodGet, "/api/v1/script-runs", "", nil), http.StatusUnauthorized)
	})
}

// seedSearch records five runs an hour apart and returns them. A run's id
// is the sequence number of its start entry: 1, 3, 5, 7 and 9.
func seedSearch(f *fixture) []scriptlog.JSON {
	f.t.Helper()
	type seed struct {
		start  map[string]any
		finish map[string]any // nil: still running
	}
	seeds := []seed{
		{map[string]any{"purpose": "Backfill endorsements", "ticket": "OPS-1", "target": "policies", "script": "./backfill.sh", "args": []string{"--state", "FL"}},
			map[string]any{"exit_code": 0}},
		{map[string]any{"purpose": "redrive DLQ", "ticket": "OPS-2", "target": "queues", "script": "vigil", "args": []string{"redrive", "--queue", "orders-dlq"}},
			map[string]any{"exit_code": 2}},
		{map[string]any{"purpose": "backfill documents", "ticket": "OPS-1", "target": "policies", "script": "./backfill.sh", "args": []string{"--state", "LA"}},
			map[string]any{"exit_code": 130, "status": "interrupted"}},
		{map[string]any{"purpose": "fix status history", "ticket": "OPS-3", "target": "warehouse", "script": "psql", "args": []string{"-f", "fix_100%.sql"}},
			map[string]any{"exit_code": 0}},
		{map[string]any{"purpose": "long backfill", "ticket": "OPS-4", "target": "policies", "script": "./backfill.sh", "args": []string{"--all"}},
			nil},
	}
	var out []scriptlog.JSON
	for _, s := range seeds {
		run := startRun(f, s.start)
		if s.finish != nil {
			run = finishRun(f, run.ID, s.finish)
		}
		out = append(out, run)
		f.clock.Add(time.Hour)
	}
	return out
}

func TestScriptRunSearchAPI(t *testing.T) {
	f := newFixture(t, scriptRunConfig(t), nil)
	runs := seedSearch(f) // started 12:00 to 16:00 on 2025-03-09 UTC
	tests := []struct {
		name     string
		query    string
		want     []int  // 1-based positions in runs
		wantNext string // the Link header's before and limit, when a next page exists
	}{
		{name: "all, newest first", query: "", want: []int{5, 4, 3, 2, 1}},
		{name: "actor", query: "actor=" + operatorActor, want: []int{5, 4, 3, 2, 1}},
		{name: "other actor", query: "actor=alice", want: nil},
		{name: "purpose any case", query: "purpose=BACKFILL", want: []int{5, 3, 1}},
		{name: "purpose short", query: "purpose=dl", want: []int{2}},
		{name: "ticket exact", query: "ticket=OPS-1", want: []int{3, 1}},
		{name: "ticket not a substring", query: "ticket=OPS", want: nil},
		{name: "target", query: "target=policies", want: []int{5, 3, 1}},
		{name: "text in args", query: "text=orders-dlq", want: []int{2}},
		{name: "text with like characters", query: "text=100%25", want: []int{4}},
		{name: "text in command", query: "text=backfill.sh", want: []int{5, 3, 1}},
		{name: "status failed", query: "status=failed", want: []int{2}},
		{name: "status running", query: "status=running", want: []int{5}},
		{name: "status success", query: "status=success", want: []int{4, 1}},
		{name: "from", query: "from=2025-03-09T14:00:00Z", want: []int{5, 4, 3}},
		{name: "to is exclusive", query: "to=2025-03-09T14:00:00Z", want: []int{2, 1}},
		{name: "from and to, wall clock", query: "from=2025-03-09 13:00&to=2025-03-09 15:00", want: []int{3, 2}},
		{name: "to a whole day", query: "to=2025-03-09", want: []int{5, 4, 3, 2, 1}},
		{name: "from the next day", query: "from=2025-03-10", want: nil},
		{name: "combined", query: "target=policies&status=success&purpose=backfill", want: []int{1}},
		{name: "page one", query: "limit=2", want: []int{5, 4}, wantNext: "before=7&limit=2"},
		{name: "page two", query: "limit=2&before=7", want: []int{3, 2}, wantNext: "before=3&limit=2"},
		{name: "last page", query: "limit=2&before=3", want: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/api/v1/script-runs?" + strings.ReplaceAll(tt.query, " ", "%20")
			r := call(f, nil, http.MethodGet, target, viewerToken, nil)
			got := decode[[]scriptlog.JSON](t, r, http.StatusOK)
			var ids []int64
			for _, run := range got {
				ids = append(ids, run.ID)
				if run.Output != nil || run.OutputBase64 != "" {
					t.Errorf("run %d: a search returned its output", run.ID)
				}
			}
			var want []int64
			for _, i := range tt.want {
				want = append(want, runs[i-1].ID)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("ids = %v, want %v", ids, want)
			}
			link := r.Header.Get("Link")
			switch {
			case tt.wantNext == "" && link != "":
				t.Errorf("Link %q on the last page", link)
			case tt.wantNext != "" && (!strings.Contains(link, tt.wantNext) || !strings.Contains(link, `rel="next"`)):
				t.Errorf("Link %q, want a next page with %s", link, tt.wantNext)
			}
			if r.body == "null" {
				t.Errorf("an empty result is null, want []")
			}
		})
	}

	bad := []struct{ name, query, want string }{
		{name: "status", query: "status=ok", want: "status must be"},
		{name: "limit zero", query: "limit=0", want: "limit must be between 1 and 500"},
		{name: "limit too big", query: "limit=501", want: "limit must be"},
		{name: "before", query: "before=x", want: "before must be"},
		{name: "from", query: "from=yesterday", want: "from: cannot read"},
		{name: "to", query: "to=03/09/2025", want: "to: cannot read"},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.name, func(t *testing.T) {
			e := decode[struct{ Error string }](t, call(f, nil, http.MethodGet, "/api/v1/script-runs?"+tt.query, viewerToken, nil), http.StatusBadRequest)
			if !strings.Contains(e.Error, tt.want) {
				t.Errorf("error %q, want %q", e.Error, tt.want)
			}
		})
	}
}

func TestScriptRunAuditAndChain(t *testing.T) {
	f := newFixture(t, scriptRunConfig(t), nil)
	runs := seedSearch(f)

	// Each POST is audited, by the token's actor, naming the run.
	var got []string
	for _, e := range f.audit() {
		if strings.HasPrefix(e.Action, "script_run_") {
			if e.Actor != operatorActor {
				t.Errorf("audit %s by %q, want %q", e.Action, e.Actor, operatorActor)
			}
			got = append(got, e.Action+" "+e.Target)
		}
	}
	want := []string{
		"script_run_start script-run/1", "script_run_finish script-run/1",
		"script_run_start script-run/3", "script_run_finish script-run/3",
		"script_run_start script-run/5", "script_run_finish script-run/5",
		"script_run_start script-run/7", "script_run_finish script-run/7",
		"script_run_start script-run/9",
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit = %q\nwant %q", got, want)
	}

	// The chain the API wrote verifies, and links each run to the one before.
	log := scriptLogOf(f)
	rep, err := scriptlog.Verify(context.Background(), log, scriptlog.VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK() || rep.Runs != len(runs) || rep.Entries != 9 {
		t.Errorf("verify: broken %v, %d runs in %d entries; want intact, %d runs in 9 entries", rep.Broken, rep.Runs, rep.Entries, len(runs))
	}
	if runs[0].PrevHash != scriptlog.Genesis || runs[1].PrevHash != finishHash(f, runs[0].ID) {
		t.Errorf("run 2's prev_hash %q does not follow run 1's finish", runs[1].PrevHash)
	}

	// Tampering with a record the API wrote is detected.
	if _, err := f.store.DB().Exec("UPDATE script_log SET purpose = 'nothing to see' WHERE seq = 3"); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	if rep, err := scriptlog.Verify(context.Background(), log, scriptlog.VerifyOptions{}); err != nil || rep.OK() || rep.Broken.RunID != 3 {
		t.Errorf("after an edit: %+v, %v; want broken at run 3", rep.Broken, err)
	}
}

// finishHash is the stored finish hash of run id.
func finishHash(f *fixture, id int64) string {
	f.t.Helper()
	got, err := scriptLogOf(f).Get(context.Background(), id)
	if err != nil {
		f.t.Fatalf("Get %d: %v", id, err)
	}
	return got.FinishHash
}
