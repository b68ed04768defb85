package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Connection limits. vigil serve must outlive any client: a flood of idle
// connections may take the slots it is allowed, never the process's file
// descriptors (accept(2) failing with EMFILE used to stop the web server).
const (
	// fdReserve is how many file descriptors the default connection cap
	// leaves for everything but the dashboard: the store (up to 10
	// PostgreSQL connections, or SQLite's files), sinks, http checks (one
	// connection per running check, at most the scheduler's 16 slots) and
	// the runtime; fdPerDatasource more per SQL datasource (8 pooled
	// connections, SQLite's up to 3 files each).
	fdReserve       = 64
	fdPerDatasource = 24
	// maxDefaultConnections bounds the default: a team's dashboard needs
	// far fewer, and each idle connection costs buffers and a goroutine.
	maxDefaultConnections = 4096
	// perAddrShare: one client address may hold 1/perAddrShare of the
	// connections (at least minPerAddr), so one address cannot take them all.
	perAddrShare = 8
	minPerAddr   = 8
	// Accept backoff on temporary errors, as Go's net/http: 5 ms doubling
	// to 1 s.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	// rejectLogEvery bounds how often refused connections are logged.
	rejectLogEvery = 10 * time.Second
)

// ConnLimits are the dashboard's connection caps.
type ConnLimits struct {
	Max     int // concurrent connections
	PerAddr int // concurrent connections from one client address (IPv6: one /64)
}

// connLimitsFor returns the caps for a configured max_connections (0:
// derived from the file-descriptor limit nofile, minus what the store,
// sqlDatasources datasources and sinks need) and whether the cap leaves
// that reserve.
func connLimitsFor(configured int, nofile uint64, sqlDatasources int) (ConnLimits, bool) {
	reserve := fdReserve + fdPerDatasource*sqlDatasources
	budget := maxDefaultConnections
	if nofile > 0 && nofile < uint64(maxDefaultConnections+reserve) {
		budget = max(int(nofile)-reserve, int(nofile)/4, 1)
	}
	lim := ConnLimits{Max: budget}
	fits := true
	if configured > 0 {
		lim.Max = configured
		fits = nofile == 0 || uint64(configured+reserve) <= nofile
	}
	lim.PerAddr = min(lim.Max, max(lim.Max/perAddrShare, minPerAddr))
	return lim, fits
}

// limitListener accepts connections within ConnLimits: a connection over
// the total cap is answered 503, one over its address's cap 429, and closed
// at once, so the descriptors in use stay bounded. Connections from trusted
// proxies carry many clients and only count against the total. Temporary
// accept errors (EMFILE, ENFILE, ECONNABORTED, ...) are retried after a
// backoff instead of ending the server.
type limitListener struct {
	net.Listener
	lim     ConnLimits
	trusted []netip.Prefix
	log     *slog.Logger

	mu       sync.Mutex
	open     int
	byAddr   map[netip.Prefix]int
	refused  int       // since lastLog
	lastLog  time.Time // when refusals were last logged
	closed   chan struct{}
	closeErr error
	once     sync.Once
}

func newLimitListener(ln net.Listener, lim ConnLimits, trusted []netip.Prefix, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, lim: lim, trusted: trusted, log: log, byAddr: map[netip.Prefix]int{}, closed: make(chan struct{})}
}

// Accept returns the next connection within the limits. It returns an
// error only when the listener is closed or fails permanently.
func (l *limitListener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !temporaryAcceptError(err) {
				return nil, err
			}
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			l.log.Warn("web: accept failed, retrying", "err", err, "retry_in", backoff)
			select {
			case <-l.closed:
				return nil, net.ErrClosed
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		key, counted := l.addrKey(c.RemoteAddr())
		if status := l.admit(key, counted); status != 0 {
			l.refuse(c, status)
			continue
		}
		return &limitedConn{Conn: c, l: l, key: key, counted: counted}, nil
	}
}

// addrKey is the per-address bucket of a peer (IPv6 by /64, as one host
// usually has a whole /64), and false when the peer is a trusted proxy or
// not an IP.
func (l *limitListener) addrKey(a net.Addr) (netip.Prefix, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip := ta.AddrPort().Addr().Unmap()
	if isTrusted(ip, l.trusted) {
		return netip.Prefix{}, false
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// admit takes a slot for a connection from key, or returns the HTTP status
// that refuses it.
func (l *limitListener) admit(key netip.Prefix, counted bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open >= l.lim.Max:
		return 503
	case counted && l.byAddr[key] >= l.lim.PerAddr:
		return 429
	}
	l.open++
	if counted {
		l.byAddr[key]++
	}
	return 0
}

func (l *limitListener) release(key netip.Prefix, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if counted {
		if l.byAddr[key]--; l.byAddr[key] <= 0 {
			delete(l.byAddr, key)
		}
	}
}

// refuse answers c with status and closes it, logging refusals at most
// every rejectLogEvery.
func (l *limitListener) refuse(c net.Conn, status int) {
	msg := "vigil: too many connections, try again later\n"
	head := "503 Service Unavailable"
	if status == 429 {
		msg = "vigil: too many connections from your address\n"
		head = "429 Too Many Requests"
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", head, len(msg), msg)
	c.Close()

	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused++
	if now := time.Now(); now.Sub(l.lastLog) >= rejectLogEvery {
		l.log.Warn("web: refusing connections over the limits", "refused", l.refused,
			"max_connections", l.lim.Max, "max_connections_per_ip", l.lim.PerAddr, "last_from", c.RemoteAddr().String())
		l.refused, l.lastLog = 0, now
	}
}

// Close closes the listener and ends a backoff in progress.
func (l *limitListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.closeErr = l.Listener.Close()
	})
	return l.closeErr
}

// limitedConn gives its slot back when closed.
type limitedConn struct {
	net.Conn
	l       *limitListener
	key     netip.Prefix
	counted bool
	once    sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key, c.counted) })
	return err
}

// temporaryAcceptError reports whether accept(2) failed for a reason that
// passes: out of file descriptors or memory, a connection aborted before it
// was accepted, an interrupted call, a timeout.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// isTrusted reports whether ip is in one of the trusted prefixes.
func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
