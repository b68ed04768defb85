package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
)

// TestHelpGoesToStdout holds every command to the GNU Coding Standards
// (4.8.2 "--help"): help is printed on standard output and the program
// exits successfully; its usage line names the positional arguments.
func TestHelpGoesToStdout(t *testing.T) {
	var invocations [][]string
	for _, h := range []string{"-h", "--help", "help"} {
		invocations = append(invocations, []string{h})
	}
	for _, c := range commands() {
		invocations = append(invocations, []string{c.name, "-h"}, []string{c.name, "--help"}, []string{"help", c.name})
	}
	invocations = append(invocations,
		[]string{"scriptlog", "verify", "-h"}, []string{"scriptlog", "list", "--help"}, []string{"scriptlog", "show", "-h"},
		[]string{"datadog", "export", "-h"}, []string{"token", "create", "--help"})
	for _, args := range invocations {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(t.Context(), args, &stdout, &stderr)
			if code != exitOK {
				t.Errorf("exit %d, want 0", code)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), "usage: vigil ") {
				t.Errorf("stdout does not start with a usage line:\n%s", stdout.String())
			}
		})
	}

	// Usage lines name positional arguments.
	for args, want := range map[string]string{
		"exec -h":           "usage: vigil exec --purpose TEXT",
		"scriptlog show -h": "usage: vigil scriptlog show [-c FILE] [--format text|json] ID",
		"token create -h":   "usage: vigil token create --name NAME --role viewer|operator|admin",
		"run -h":            "usage: vigil run --once [-c FILE]",
	} {
		var stdout, stderr bytes.Buffer
		Main(t.Context(), strings.Fields(args), &stdout, &stderr)
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("%s: usage lacks %q:\n%s", args, want, stdout.String())
		}
		if !strings.Contains(stdout.String(), "-c") && strings.Contains(want, "-c") {
			t.Errorf("%s: flags not listed", args)
		}
	}

	// Usage errors still go to stderr with exit 2.
	for _, args := range [][]string{{}, {"frobnicate"}, {"run", "--frobnicate"}, {"scriptlog"}, {"token"}, {"datadog"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(t.Context(), args, &stdout, &stderr); code != exitBroken || !strings.Contains(stderr.String(), "usage: vigil") || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestVersion: `vigil --version` and `vigil version` print the version on
// standard output and exit 0 (GNU Coding Standards 4.8.1 "--version"). The
// version is the module version (a release installed with go install
// ...@vX.Y.Z) or the VCS revision, and the Go version.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		stdout, stderr, code := vigil(t, nil, args...)
		if code != 0 || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if !regexp.MustCompile(`^vigil \S+.* \(go1\.\d+`).MatchString(stdout) {
			t.Errorf("%v: stdout %q, want vigil <version> (go1.x)", args, stdout)
		}
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{name: "release", info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, want: "vigil v1.2.0 (go1.26.8)"},
		{name: "checkout", info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}},
			want: "vigil (devel) rev 0123456789ab (modified) (go1.26.8)"},
		{name: "no build info", info: nil, want: "vigil (devel) (" + runtime.Version() + ")"},
	}
	for _, tt := range tests {
		if got := version(tt.info); got != tt.want {
			t.Errorf("%s: version = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestConfigDefault: every command finds its config the same way: -c, else
// $VIGIL_CONFIG, else ./vigil.yaml.
func TestConfigDefault(t *testing.T) {
	dir := t.TempDir()
	cfg := "checks: [{id: %s, kind: http, url: 'http://127.0.0.1:1/'}]\n"
	writeFiles(t, dir, map[string]string{
		"vigil.yaml":           strings.Replace(cfg, "%s", "here", 1),
		"other/vigil.yaml":     strings.Replace(cfg, "%s", "from-env", 1),
		"explicit/vigil.yaml":  strings.Replace(cfg, "%s", "explicit", 1),
		"runbooks/r.md":        fullRunbook("here"),
		"other/runbooks/r.md":  fullRunbook("from-env"),
		"explicit/runbooks/.k": "",
	})
	run := func(env []string, args ...string) (string, string, int) {
		t.Helper()
		return vigilIn(t, dir, env, args...)
	}
	for _, sub := range [][]string{{"validate"}, {"run", "--once", "--no-store", "--format", "json"}} {
		// validate names the file it read; run prints the check ids.
		want := func(name, id string) string {
			if sub[0] == "validate" {
				return name + ": ok"
			}
			return `"check": "` + id + `"`
		}
		if out, stderr, _ := run([]string{"VIGIL_CONFIG="}, sub...); !strings.Contains(out, want("vigil.yaml", "here")) {
			t.Errorf("%v without -c: %s%s; want ./vigil.yaml", sub, out, stderr)
		}
		envPath := filepath.Join(dir, "other", "vigil.yaml")
		if out, stderr, _ := run([]string{"VIGIL_CONFIG=" + envPath}, sub...); !strings.Contains(out, want(envPath, "from-env")) {
			t.Errorf("%v with $VIGIL_CONFIG: %s%s", sub, out, stderr)
		}
		explicit := filepath.Join(dir, "explicit", "vigil.yaml")
		args := append(append([]string{}, sub...), "-c", explicit)
		if out, stderr, _ := run([]string{"VIGIL_CONFIG=" + envPath}, args...); !strings.Contains(out, want(explicit, "explicit")) {
			t.Errorf("%v with -c and $VIGIL_CONFIG: %s%s; -c wins", sub, out, stderr)
		}
	}
	_, stderr, code := vigilIn(t, t.TempDir(), []string{"VIGIL_CONFIG="}, "validate")
	if code != 2 || !strings.Contains(stderr, "VIGIL_CONFIG") {
		t.Errorf("no config anywhere: exit %d, %s", code, stderr)
	}
}

// TestTokenCreate: the token is printed once with the auth.tokens entry
// that holds its SHA-256 (DESIGN: "API tokens are stored hashed"); the
// entry pasted into a config loads, and names the same token.
func TestTokenCreate(t *testing.T) {
	stdout, stderr, code := vigil(t, nil, "token", "create", "--name", "ci-deploy", "--role", "operator")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines, want the token and the entry:\n%s", len(lines), stdout)
	}
	token := lines[0]
	if len(token) < config.MinTokenLength || strings.ContainsAny(token, " \t") {
		t.Errorf("token %q: want at least %d characters without spaces", token, config.MinTokenLength)
	}
	sum := sha256.Sum256([]byte(token))
	if !strings.Contains(lines[1], hex.EncodeToString(sum[:])) {
		t.Errorf("entry %q does not hold the token's SHA-256", lines[1])
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": "auth:\n  tokens:\n" + lines[1] + "\nchecks: [{id: api, kind: http, url: 'http://127.0.0.1:1/'}]\n"})
	cfg, err := config.Load(filepath.Join(dir, "vigil.yaml"), kinds())
	if err != nil {
		t.Fatalf("the pasted entry does not load: %v", err)
	}
	if got := cfg.Auth.Tokens; len(got) != 1 || got[0].Name != "ci-deploy" || got[0].Role != "operator" || got[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("auth.tokens = %+v", got)
	}
	if again, _, _ := vigil(t, nil, "token", "create", "--name", "ci-deploy", "--role", "operator"); strings.Split(again, "\n")[0] == token {
		t.Error("two runs printed the same token")
	}
	for _, args := range [][]string{{"--name", "ci", "--role", "root"}, {"--name", "bad name", "--role", "viewer"}, {"--role", "viewer"}} {
		if _, _, code := vigil(t, nil, append([]string{"token", "create"}, args...)...); code != 2 {
			t.Errorf("token create %v: exit %d, want 2", args, code)
		}
	}
}

// TestHashPasswordOnATerminal: on a terminal the password is asked for
// twice and never echoed (the terminal's ECHO flag is off while it is
// typed); script(1) gives the command a real pseudo-terminal.
func TestHashPasswordOnATerminal(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script(1) from util-linux is needed to give vigil a terminal: %v", err)
	}
	const password = "Correct-Horse-42"
	// run types each answer once its prompt is on the terminal, as a
	// person would (typed earlier, the terminal would still echo it).
	run := func(answers ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(scriptBin, "-qec", vigilBin+" hash-password", "/dev/null")
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		for i, answer := range answers {
			prompt := []string{"Password: ", "Password again: "}[i]
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(out.String(), prompt) {
				if time.Now().After(deadline) {
					t.Fatalf("no prompt %q:\n%s", prompt, out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(time.Second) // the prompt is written just before echo goes off
			in.Write([]byte(answer + "\n"))
		}
		cmd.Wait()
		return out.String(), cmd.ProcessState.ExitCode()
	}
	out, code := run(password, password)
	if code != 0 || !strings.Contains(out, "$argon2id$") {
		t.Fatalf("exit %d, transcript %q; want two prompts and a hash", code, out)
	}
	if strings.Contains(out, password) {
		t.Errorf("the password was echoed on the terminal: %q", out)
	}
	if out, code := run(password, "something-else"); code != 2 || !strings.Contains(out, "differ") {
		t.Errorf("different passwords: exit %d, %q", code, out)
	}
}

// TestRunNoStore: `run --once --no-store` (and --dry-run) records nothing:
// the store is not even created, so trying a config never changes what the
// dashboard shows.
func TestRunNoStore(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"vigil.yaml":    "checks: [{id: api, kind: http, url: 'http://127.0.0.1:1/'}]\n",
		"runbooks/r.md": fullRunbook("api"),
	})
	path := filepath.Join(dir, "vigil.yaml")
	store := filepath.Join(dir, "vigil.db")
	for _, flag := range []string{"--no-store", "--dry-run"} {
		stdout, stderr, code := vigil(t, nil, "run", "--once", flag, "-c", path)
		if code != 1 || !strings.Contains(stdout, "api") {
			t.Errorf("%s: exit %d (want 1: the endpoint is down), stdout %q, stderr %q", flag, code, stdout, stderr)
		}
		if _, err := os.Stat(store); !os.IsNotExist(err) {
			t.Fatalf("%s: the store %s exists (%v): something was recorded", flag, store, err)
		}
	}
	if _, _, code := vigil(t, nil, "run", "--once", "-c", path); code != 1 {
		t.Fatalf("plain run: exit %d", code)
	}
	if _, err := os.Stat(store); err != nil {
		t.Errorf("a plain run --once records its results: %v", err)
	}
}

// TestDemoListensOnLoopbackOnly: the demo's users and passwords are in the
// README, so listening beyond loopback makes anyone on the network an
// admin; it takes --public to mean it.
func TestDemoListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		_, stderr, code := vigil(t, nil, "demo", "--listen", addr)
		if code != 2 || !strings.Contains(stderr, "--public") {
			t.Errorf("demo --listen %s: exit %d, stderr %q; want a refusal naming --public", addr, code, stderr)
		}
	}
	cmd := exec.Command(vigilBin, "demo", "--public", "--listen", "0.0.0.0:0")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "dashboard") {
		if time.Now().After(deadline) {
			t.Fatalf("demo --public did not start:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
}

// TestValidateOnePass: config, rules-file and runbook problems come out of
// one validate run (issue 15: runbook problems used to appear only once
// the config was fixed).
func TestValidateOnePass(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"vigil.yaml": `server: {listen: nowhere}
checks:
  - {id: api, kind: http, url: 'http://127.0.0.1:1/', runbook: api}
  - {id: other, kind: http, url: 'http://127.0.0.1:1/', urll: x}
`,
		"runbooks/api.md":   "---\ntitle: API\nchecks: [api]\n---\n## Meaning\n",
		"runbooks/ghost.md": fullRunbook("ghost"),
	})
	_, stderr, code := vigil(t, nil, "validate", "-c", filepath.Join(dir, "vigil.yaml"))
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	for _, want := range []string{
		`vigil.yaml:1: server: listen: invalid address "nowhere"`,
		`vigil.yaml:4: unknown field "urll" in check "other"`,
		`api.md:1: runbook has no "Impact" section`,
		`ghost.md:3: runbook names unknown check "ghost"`,
		`warning: ` + filepath.Join(dir, "vigil.yaml") + `:4: check "other" has no runbook`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
