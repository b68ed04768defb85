package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
)

// serveTCP serves f's server on a loopback port and returns its base URL.
func serveTCP(t *testing.T, f *fixture) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.s.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String()
}

// dialFrom opens a TCP connection to addr from local address ip.
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fate says what the server did with an idle connection within 2 s: "held"
// (open, no answer), or the status of its answer ("429", "503").
func fate(conns ...net.Conn) []string {
	out := make([]string, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			var ne net.Error
			switch {
			case err == nil:
				out[i] = fmt.Sprint(resp.StatusCode)
				resp.Body.Close()
			case errors.As(err, &ne) && ne.Timeout():
				out[i] = "held"
			default:
				out[i] = err.Error()
			}
			c.SetReadDeadline(time.Time{})
		})
	}
	wg.Wait()
	return out
}

func count(fates []string) map[string]int {
	m := map[string]int{}
	for _, f := range fates {
		m[f]++
	}
	return m
}

// healthzOver sends GET /healthz on c and returns the status.
func healthzOver(t *testing.T, c net.Conn) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeConnectionLimits: server.max_connections caps the connections
// the dashboard holds, one client address may hold an eighth of them (at
// least 8), and a connection over either cap is answered at once (503 for
// the total, 429 for the address, as RFC 6585 defines it) and closed, so it
// holds no descriptor; a freed slot serves again. Trusted proxies carry
// many clients and only count against the total.
func TestServeConnectionLimits(t *testing.T) {
	f := newFixture(t, &config.Config{Server: config.Server{MaxConnections: 10}}, nil)
	addr := serveTCP(t, f)[len("http://"):]
	if lim := f.s.Limits(); lim != (ConnLimits{Max: 10, PerAddr: 8}) {
		t.Fatalf("Limits() = %+v, want max 10, 8 per address", lim)
	}
	var one []net.Conn
	for range 9 {
		one = append(one, dialFrom(t, "127.0.0.1", addr))
	}
	if got := count(fate(one...)); got["held"] != 8 || got["429"] != 1 {
		t.Errorf("9 connections from one address: %v, want 8 held and 1 refused with 429", got)
	}
	two := []net.Conn{dialFrom(t, "127.0.0.2", addr), dialFrom(t, "127.0.0.2", addr), dialFrom(t, "127.0.0.3", addr)}
	if got := fate(two...); got[0] != "held" || got[1] != "held" || got[2] != "503" {
		t.Errorf("connections 9 to 11 from other addresses: %v, want held, held, 503", got)
	}
	one[0].Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c := dialFrom(t, "127.0.0.3", addr)
		if fate(c)[0] == "held" {
			if code := healthzOver(t, c); code != 200 {
				t.Errorf("/healthz on a freed slot = %d", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no slot was freed 5s after a connection closed")
		}
	}

	cfg := &config.Config{Server: config.Server{MaxConnections: 10, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}
	proxied := newFixture(t, cfg, nil)
	addr = serveTCP(t, proxied)[len("http://"):]
	var viaProxy []net.Conn
	for range 11 {
		viaProxy = append(viaProxy, dialFrom(t, "127.0.0.1", addr))
	}
	if got := count(fate(viaProxy...)); got["held"] != 10 || got["503"] != 1 {
		t.Errorf("11 connections from a trusted proxy: %v, want 10 held and 1 refused with 503", got)
	}
}

// flakyListener fails its first Accepts with errs, then accepts.
type flakyListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func acceptError(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// TestServeRetriesTemporaryAcceptErrors: accept(2) failing with EMFILE,
// ENFILE or ECONNABORTED (out of descriptors, a client gone before it was
// accepted) is temporary, as Go's net/http treats it: the server backs off
// and accepts again instead of returning. A permanent failure still ends
// Serve with the error.
func TestServeRetriesTemporaryAcceptErrors(t *testing.T) {
	f := newFixture(t, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakyListener{Listener: ln, errs: []error{acceptError(syscall.EMFILE), acceptError(syscall.ENFILE), acceptError(syscall.ECONNABORTED)}}
	done := make(chan error, 1)
	go func() { done <- f.s.Serve(flaky) }()
	c := dialFrom(t, "127.0.0.1", ln.Addr().String())
	if code := healthzOver(t, c); code != 200 {
		t.Errorf("/healthz after EMFILE, ENFILE, ECONNABORTED = %d", code)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned after temporary accept errors: %v", err)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-done

	g := newFixture(t, nil, nil)
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	broken := errors.New("listener broken")
	go func() {
		done <- g.s.Serve(&flakyListener{Listener: ln2, errs: []error{&net.OpError{Op: "accept", Net: "tcp", Err: broken}}})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, broken) {
			t.Errorf("Serve = %v, want the permanent accept error", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Serve kept running after a permanent accept error")
	}
}

// TestConnLimitsFor: the default cap leaves the store, datasources and
// sinks their file descriptors under RLIMIT_NOFILE (getrlimit(2): a process
// can never hold more), so accept(2) cannot run the process out of them.
func TestConnLimitsFor(t *testing.T) {
	tests := []struct {
		name        string
		configured  int
		nofile      uint64
		datasources int
		want        ConnLimits
		fits        bool
	}{
		{name: "ulimit -n 256", nofile: 256, want: ConnLimits{Max: 192, PerAddr: 24}, fits: true},
		{name: "ulimit -n 256, 3 SQL datasources", nofile: 256, datasources: 3, want: ConnLimits{Max: 120, PerAddr: 15}, fits: true},
		{name: "systemd's soft 1024", nofile: 1024, want: ConnLimits{Max: 960, PerAddr: 120}, fits: true},
		{name: "high limit: the default's ceiling", nofile: 524288, want: ConnLimits{Max: 4096, PerAddr: 512}, fits: true},
		{name: "tiny limit: a quarter", nofile: 100, datasources: 3, want: ConnLimits{Max: 25, PerAddr: 8}, fits: true},
		{name: "unknown limit", nofile: 0, want: ConnLimits{Max: 4096, PerAddr: 512}, fits: true},
		{name: "configured within the limit", configured: 100, nofile: 256, want: ConnLimits{Max: 100, PerAddr: 12}, fits: true},
		{name: "configured beyond the limit", configured: 1000, nofile: 256, want: ConnLimits{Max: 1000, PerAddr: 125}, fits: false},
		{name: "configured below the per-address floor", configured: 4, nofile: 256, want: ConnLimits{Max: 4, PerAddr: 4}, fits: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fits := connLimitsFor(tt.configured, tt.nofile, tt.datasources)
			if got != tt.want || fits != tt.fits {
				t.Errorf("connLimitsFor(%d, %d, %d) = %+v, %v; want %+v, %v", tt.configured, tt.nofile, tt.datasources, got, fits, tt.want, tt.fits)
			}
		})
	}
}
