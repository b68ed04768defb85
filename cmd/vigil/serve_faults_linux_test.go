package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listeningFD returns the descriptor number, in process pid, of its TCP
// socket listening on port (from /proc/net/tcp and /proc/<pid>/fd).
func listeningFD(t *testing.T, pid, port int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		t.Fatal(err)
	}
	inode := ""
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// local_address is HEXIP:HEXPORT; state 0A is LISTEN.
		if len(f) > 9 && strings.HasSuffix(f[1], fmt.Sprintf(":%04X", port)) && f[3] == "0A" {
			inode = f[9]
		}
	}
	if inode == "" {
		t.Fatalf("no socket of pid %d listens on port %d", pid, port)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fds {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); target == "socket:["+inode+"]" {
			fd, _ := strconv.Atoi(e.Name())
			return fd
		}
	}
	t.Fatalf("pid %d has no descriptor for socket inode %s", pid, inode)
	return -1
}

// TestServeExitsNonZeroWhenTheWebServerDies breaks the listening socket of
// a running `vigil serve` from outside (pidfd_getfd(2) then shutdown(2),
// after which accept(2) fails for good with EINVAL). systemd's
// Restart=on-failure restarts a service only when it exits non-zero or is
// killed by a signal (systemd.service(5)): vigil must drain and exit 1, not
// 0 as before, when a component stops.
func TestServeExitsNonZeroWhenTheWebServerDies(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
datasources: {}
checks:
  - {id: idle, kind: http, url: "http://127.0.0.1:1/", schedule: "@every 1h"}
`})
	cmd, base, logs := startServe(t, filepath.Join(dir, "vigil.yaml"))
	_, portText, _ := strings.Cut(strings.TrimPrefix(base, "http://"), ":")
	port, _ := strconv.Atoi(portText)
	pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open: %v", err)
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, listeningFD(t, cmd.Process.Pid, port), 0)
	if err != nil {
		t.Fatalf("pidfd_getfd (needs ptrace rights over the child, as its parent has): %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Shutdown(fd, unix.SHUT_RDWR); err != nil {
		t.Fatalf("shutdown the listening socket: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err == nil || !errors.As(err, &ee) || ee.ExitCode() != exitFail {
			t.Fatalf("vigil serve exited with %v after its web server died; want exit status %d\n%s", err, exitFail, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("vigil serve kept running 30s after its web server died\n%s", logs)
	}
	if !strings.Contains(logs.String(), "a component failed") {
		t.Errorf("the log does not say why vigil stopped:\n%s", logs)
	}
}
