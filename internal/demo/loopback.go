package demo

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// loopbackServer is an HTTP server on 127.0.0.1:0 for the sandbox's
// in-process fakes (SQS, S3): it serves until Close.
type loopbackServer struct {
	name     string // for errors: "fake sqs"
	endpoint string
	srv      *http.Server
	done     chan struct{}

	connMu  sync.Mutex
	fresh   map[net.Conn]bool // connections that have not sent a request yet
	closing bool
}

// startLoopback listens on 127.0.0.1:0 and serves h until Close.
func startLoopback(name string, h http.Handler) (*loopbackServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: %s: listen: %w", name, err)
	}
	s := &loopbackServer{name: name, endpoint: "http://" + ln.Addr().String(), done: make(chan struct{}), fresh: map[net.Conn]bool{}}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ConnState: s.track}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // returns ErrServerClosed on Close
	}()
	return s, nil
}

// Endpoint is the server's base URL, http://127.0.0.1:<port>.
func (s *loopbackServer) Endpoint() string { return s.endpoint }

// track follows the server's connections for Close: it knows which ones
// were opened but have not sent a request yet, and once Close has begun it
// closes any such connection at once.
func (s *loopbackServer) track(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	switch st {
	case http.StateNew:
		if s.closing {
			c.Close()
			return
		}
		s.fresh[c] = true
	default:
		delete(s.fresh, c)
	}
}

// Close stops the server: it refuses new requests, lets the ones in flight
// finish, and closes every connection. A client may hold a connection it
// opened but never used (the AWS SDK's transport dials one while an idle
// one frees up, and keeps both): http.Server.Shutdown waits up to five
// seconds for such a connection before it counts as idle, longer than
// Close's budget, so Close closes those itself — nothing is in flight on
// them.
func (s *loopbackServer) Close() error {
	s.connMu.Lock()
	s.closing = true
	for c := range s.fresh {
		c.Close()
	}
	s.connMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	if err != nil {
		return fmt.Errorf("demo: %s: close: %w", s.name, err)
	}
	return nil
}
