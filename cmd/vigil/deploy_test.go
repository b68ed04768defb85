package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdUnit: deploy/vigil.service restarts vigil when it fails, runs
// it as a dynamic unprivileged user on a read-only system, and passes
// `systemd-analyze verify` (systemd's own checker of unit files).
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "vigil.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nRestart=on-failure\n", "\nDynamicUser=yes\n", "\nProtectSystem=strict\n", "\nReadOnlyPaths=/etc/vigil\n",
		"\nStateDirectory=vigil\n", "\nNoNewPrivileges=yes\n", "\nExecStart=/usr/local/bin/vigil serve -c /etc/vigil/vigil.yaml\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("vigil.service lacks %q", strings.TrimSpace(want))
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze is not installed: the unit is not verified by systemd here")
		return
	}
	// verify checks that ExecStart's binary exists: point it at the build.
	dir := t.TempDir()
	copied := strings.Replace(string(unit), "ExecStart=/usr/local/bin/vigil", "ExecStart="+vigilBin, 1)
	path := filepath.Join(dir, "vigil.service")
	if err := os.WriteFile(path, []byte(copied), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDockerfile: the image's build stage runs the Makefile's own build
// (make build), that build makes a static binary (an ELF without an
// interpreter or needed libraries, so it runs on any base image), and the
// final stage runs as a non-root user with a HEALTHCHECK on /healthz.
func TestDockerfile(t *testing.T) {
	df, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := regexp.MustCompile(`(?m)^FROM `).Split(string(df), -1)
	if len(stages) != 3 {
		t.Fatalf("want two stages (build, run), got %d", len(stages)-1)
	}
	build, run := stages[1], stages[2]
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil || !strings.HasPrefix(build, "golang:"+string(goVersion[1])+"-") {
		t.Errorf("build stage %q does not use go.mod's Go %s", strings.SplitN(build, "\n", 2)[0], goVersion[1])
	}
	if !regexp.MustCompile(`(?m)^RUN make build$`).MatchString(build) {
		t.Error("the build stage does not run `make build`, the Makefile's build")
	}
	if !strings.Contains(run, "COPY --from=build /src/bin/vigil ") {
		t.Error("the final stage does not copy the Makefile's bin/vigil")
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)$`).FindStringSubmatch(run)
	if user == nil || strings.HasPrefix(user[1], "0") || strings.HasPrefix(user[1], "root") {
		t.Errorf("the final stage runs as %v, want a non-root USER", user)
	}
	if !regexp.MustCompile(`(?s)HEALTHCHECK .*CMD .*http://127\.0\.0\.1:8080/healthz`).MatchString(run) {
		t.Error("no HEALTHCHECK on /healthz")
	}

	bin := filepath.Join(t.TempDir(), "vigil")
	mk := exec.Command("make", "--no-print-directory", "build", "BIN="+bin)
	mk.Dir = repoRoot
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("make build made a dynamically linked binary (it has an interpreter)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("make build's binary needs %v", libs)
	}
}
