// Package nodetest starts a real server from an npm package for tests (the
// SQS and S3 stand-ins of internal/sqstest and internal/s3test): node runs
// a small start script that listens on a free loopback port and prints it,
// and the server stops when the test ends.
//
// It installs nothing. The package must already be under the folder named
// by VIGIL_NODE_MODULES (default <repo>/.cache/node/node_modules, filled by
// `make deps`). When node or the package is missing the test is skipped,
// except under CI=true, where it fails: CI must never pass by skipping.
package nodetest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server describes the npm package to run.
type Server struct {
	// Package and Version name the npm package (e.g. "s3rver", "3.7.1").
	Package, Version string
	// Script is the JavaScript node runs. It finds the package's folder in
	// process.env.VIGIL_NODE_MODULE, must print {"port": N} as its first
	// line once it listens on 127.0.0.1, and must exit when its standard
	// input closes (so the server never outlives the test binary, even one
	// that is killed).
	Script string
	// Env adds NAME=value pairs to node's environment.
	Env []string
	// NodeFlags go before the script (e.g. --openssl-legacy-provider).
	NodeFlags []string
}

// Start runs the server for the test, stops it at cleanup and returns its
// port.
func Start(tb testing.TB, s Server) int {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Unavailable(tb, s.Package, "node is not on PATH")
	}
	module := filepath.Join(NodeModules(tb), s.Package)
	if err := checkVersion(module, s.Package, s.Version); err != nil {
		Unavailable(tb, s.Package, err.Error())
	}

	cmd := exec.Command(node, append(append([]string(nil), s.NodeFlags...), "-e", s.Script)...)
	cmd.Env = append(append(os.Environ(), "VIGIL_NODE_MODULE="+module), s.Env...)
	cmd.Stderr = &tbWriter{tb: tb, name: s.Package}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatalf("nodetest: %s: stdin pipe: %v", s.Package, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("nodetest: %s: stdout pipe: %v", s.Package, err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("nodetest: %s: start node: %v", s.Package, err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }() //nolint:errcheck // exit status of a stopped server
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill() //nolint:errcheck // best effort
			<-done
		}
	})

	port, err := readPort(stdout, 15*time.Second)
	if err != nil {
		tb.Fatalf("nodetest: start %s: %v", s.Package, err)
	}
	return port
}

// AWSEnvironment points the AWS SDK's default chain at the test's stand-in:
// these static credentials and region, no profile, no shared files, no
// instance metadata (tb.Setenv, so tests using it cannot run in parallel).
func AWSEnvironment(tb testing.TB, accessKey, secretKey, region string) {
	tb.Helper()
	tb.Setenv("AWS_ACCESS_KEY_ID", accessKey)
	tb.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	tb.Setenv("AWS_SESSION_TOKEN", "")
	tb.Setenv("AWS_REGION", region)
	tb.Setenv("AWS_PROFILE", "")
	tb.Setenv("AWS_CONFIG_FILE", filepath.Join(tb.TempDir(), "aws-config"))
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(tb.TempDir(), "aws-credentials"))
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// NodeModules returns the node_modules folder the harness reads:
// VIGIL_NODE_MODULES, else <repo>/.cache/node/node_modules where <repo> is
// the nearest folder above the working directory holding go.mod.
func NodeModules(tb testing.TB) string {
	tb.Helper()
	if dir := os.Getenv("VIGIL_NODE_MODULES"); dir != "" {
		return dir
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("nodetest: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache", "node", "node_modules")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("nodetest: no go.mod above the working directory; set VIGIL_NODE_MODULES")
		}
		dir = parent
	}
}

func checkVersion(module, pkg, version string) error {
	raw, err := os.ReadFile(filepath.Join(module, "package.json"))
	if err != nil {
		return fmt.Errorf("%s is not installed (%v); run: make deps (npm install --prefix .cache/node %s@%s)", pkg, err, pkg, version)
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("read %s: %v", filepath.Join(module, "package.json"), err)
	}
	if meta.Version != version {
		return fmt.Errorf("%s %s is installed, want %s", pkg, meta.Version, version)
	}
	return nil
}

// Unavailable skips the test, or fails it under CI=true.
func Unavailable(tb testing.TB, pkg, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("nodetest: %s unavailable under CI: %s", pkg, why)
	}
	tb.Skipf("nodetest: %s unavailable: %s", pkg, why)
}

func readPort(r io.Reader, timeout time.Duration) (int, error) {
	type line struct {
		text string
		err  error
	}
	ch := make(chan line, 1)
	go func() {
		s := bufio.NewScanner(r)
		if s.Scan() {
			ch <- line{text: s.Text()}
			io.Copy(io.Discard, r) //nolint:errcheck // keep the pipe drained
			return
		}
		err := s.Err()
		if err == nil {
			err = errors.New("server exited before printing its port")
		}
		ch <- line{err: err}
	}()
	select {
	case l := <-ch:
		if l.err != nil {
			return 0, l.err
		}
		var msg struct {
			Port int `json:"port"`
		}
		if err := json.Unmarshal([]byte(l.text), &msg); err != nil || msg.Port == 0 {
			return 0, fmt.Errorf("unexpected first line %q", l.text)
		}
		return msg.Port, nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("no port after %s", timeout)
	}
}

type tbWriter struct {
	tb   testing.TB
	name string
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.tb.Logf("%s: %s", w.name, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
