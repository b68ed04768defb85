package main

import (
	"fmt"
	"net"

	"github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/web"
)

// serveOptions is what `vigil demo` adds to a plain `vigil serve`; the
// zero value is a plain serve.
type serveOptions struct {
	// ready, when set, receives the listening address once the server
	// accepts.
	ready chan<- string
	// listener, when set, is used instead of listening on server.listen
	// (so the demo knows its port before it writes base_url).
	listener net.Listener
	// queues are SQS datasources to use instead of opening the config's,
	// by datasource name (the demo's in-process SQS fake).
	queues map[string]*datasource.SQS
	// buckets are S3 datasources to use instead of opening the config's,
	// by datasource name (the demo's in-process S3 fake).
	buckets map[string]*datasource.S3
	// sentryTransport replaces sentry-go's HTTP transport (the demo's
	// in-process capture).
	sentryTransport sentry.Transport
	// started is called once everything runs, before ready.
	started func(serving)
	// demo, when set, is the training sandbox the dashboard serves pages
	// for (web.Options.Demo).
	demo web.Sandbox
}

// serving is the running server's parts, for started.
type serving struct {
	Store     *store.Store
	Engine    *engine.Engine
	Scheduler *scheduler.Scheduler
}

// listen returns the given listener, or listens on addr.
func (o serveOptions) listen(addr string) (net.Listener, error) {
	if o.listener != nil {
		return o.listener, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// use makes the sources return the given SQS and S3 datasources instead
// of opening the config's.
func (s *sources) use(queues map[string]*datasource.SQS, buckets map[string]*datasource.S3) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, q := range queues {
		s.queues[name] = q
	}
	for name, b := range buckets {
		s.buckets[name] = b
	}
}
