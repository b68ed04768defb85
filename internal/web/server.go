// Package web is vigil's dashboard and HTTP API: a Fiber app whose pages are
// html/template files from views/ (the whole page, or a partial for htmx),
// whose assets come from static/ under a content hash, and whose every
// request is authenticated (sessions, API tokens, or local mode), checked
// for CSRF when it changes state, and audited when it acts.
//
// A page handler lives in its own file (check_show.go, ...), is a method on
// Server, parses the request, makes one call and renders:
//
//	func (s *Server) checkShow(c *fiber.Ctx) error {
//		check, err := s.store.LatestResult(c.UserContext(), c.Params("id"))
//		if err != nil {
//			return err // store.ErrNotFound becomes a 404 page
//		}
//		return s.render(c, "check_show", "check_live", check)
//	}
//
// and is registered in routes.go with the role it needs.
package web

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/runbook"
	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/statuspage"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/static"
	"github.com/vigilhq/vigil/views"
)

// Options configure New.
type Options struct {
	// Store keeps sessions, API tokens and the audit log. Required.
	Store *store.Store
	// Config is the loaded configuration. Its Server.BaseURL decides
	// whether cookies are Secure (https) and its Auth section who may log
	// in; nil, or an Auth with no users and no tokens, is local mode.
	// Pages may describe its checks; they never show its secrets. Its
	// Server.MaxConnections and TrustedProxies set the connection limits
	// (Limits) and who the client is (clientIP).
	Config *config.Config
	// Now is the clock (sessions, rate limits, audit); time.Now when nil.
	Now func() time.Time
	// Logger receives server errors (with secrets redacted); discarded
	// when nil.
	Logger *slog.Logger
	// LocalUser names the local admin in local mode (the audit's actor;
	// cmd/vigil passes the OS user); "local" when empty.
	LocalUser string
	// CSRFKey signs the CSRF tokens of requests without a session (the
	// login form, local mode). Replicas behind a load balancer without
	// sticky sessions should share one; random per process when empty.
	CSRFKey []byte
	// Sentry, when set, runs on every request right inside panic recovery:
	// cmd/vigil passes sentryfiber.New(sentryfiber.Options{Repanic: true}).
	Sentry fiber.Handler
	// Engine acks incidents and sets and expires silences; without it
	// those actions answer 503.
	Engine *engine.Engine
	// Scheduler runs a check now and reports whether checks are being
	// scheduled (/readyz); without it run-now answers 503 and /readyz is
	// not ready.
	Scheduler Scheduler
	// Lease, when set, is the scheduler's lease among replicas: /readyz
	// reports whether this replica leads and fails while renewals cannot
	// reach the store.
	Lease Lease
	// Runbooks are rendered on the check and runbook pages.
	Runbooks runbook.Set
	// Redriver redrives the dead-letter queues of sqs_dlq checks; without
	// it redrive answers 503 and check pages offer none.
	Redriver Redriver
	// Refresh is how often pages poll for changes; 10 s when zero.
	Refresh time.Duration
	// Demo, when set, is the training sandbox (vigil demo): its pages
	// (/demo, /demo/signals) are served, every page carries the sandbox's
	// banner, and every page served is reported to it (Viewed) for the
	// exercises. Without it /demo is not found.
	Demo Sandbox
	// Metrics, when set, serves GET /metrics (Prometheus) to viewers and
	// API tokens.
	Metrics http.Handler
}

// Scheduler is what the dashboard needs of *scheduler.Scheduler.
type Scheduler interface {
	// RunNow starts a run of check id now: scheduler.ErrRunning when one is
	// already going, scheduler.ErrUnknownJob for an unknown id.
	RunNow(id string) error
	Stats() scheduler.Stats
	Job(id string) (scheduler.JobStats, error)
}

// Server is the dashboard. Its handlers are methods; routes.go lists them.
type Server struct {
	app       *fiber.App
	store     *store.Store
	cfg       *config.Config
	now       func() time.Time
	log       *slog.Logger
	views     *templates
	assets    *assets
	auth      *authenticator
	secure    bool   // base URL is https: Secure, __Host- cookies
	localUser string // non-empty in local mode
	baseHost  string // the base URL's host name, accepted in local mode
	engine    *engine.Engine
	sched     Scheduler
	lease     Lease
	runbooks  runbook.Set
	redriver  Redriver
	redrives  redriveJobs  // started here, running or recently ended
	demo      Sandbox      // nil unless vigil demo
	metrics   http.Handler // /metrics; nil for none
	// runbookHTML holds each runbook's body rendered once, by name.
	runbookHTML map[string]renderedRunbook
	// checkRunbooks is the runbook name of each configured check, by id
	// ("" for none): see runbookName.
	checkRunbooks map[string]string
	// versionSeed seeds the versions of polled pages (stableVersion).
	versionSeed maphash.Seed
	refresh     time.Duration // how often pages poll
	// conns caps the connections Serve accepts; trusted are the reverse
	// proxies whose X-Forwarded-For is believed.
	conns   ConnLimits
	trusted []netip.Prefix
	// status builds the status page (nil without status_page); statusCache
	// keeps its rendering.
	status      *statuspage.Builder
	statusCache statusCache
	// slos are the configured SLOs (the /slos dashboard).
	slos []slo.SLO
	// bg is the context of the server's own background work (status page
	// rebuilds); Shutdown cancels it with stopBG.
	bg     context.Context
	stopBG context.CancelFunc
}

// pollSeconds is how often a page polls, in whole seconds for htmx's
// "every Ns": the refresh period, or a fifth of it (at least a second)
// while something it shows is running.
func (s *Server) pollSeconds(running bool) string {
	d := s.refresh
	if running {
		d /= 5
	}
	return strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
}

// New builds the server: it loads every asset, parses and checks every
// template (failing on a missing or undefined one) and registers the
// routes. It does not listen.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("web: new: a store is required")
	}
	s := &Server{store: opts.Store, cfg: opts.Config, now: opts.Now, log: opts.Logger,
		engine: opts.Engine, sched: opts.Scheduler, lease: opts.Lease, runbooks: opts.Runbooks, redriver: opts.Redriver}
	s.demo = opts.Demo
	s.metrics = opts.Metrics
	s.refresh = opts.Refresh
	if s.refresh <= 0 {
		s.refresh = 10 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	cfg := opts.Config
	if cfg == nil {
		cfg = &config.Config{}
	}
	if base := cfg.Server.BaseURL; base != "" {
		u, err := url.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("web: new: base URL: %w", err)
		}
		s.secure = u.Scheme == "https"
		s.baseHost = u.Hostname()
	}
	s.trusted = cfg.Server.TrustedProxies
	sqlSources := 0
	for _, d := range cfg.Datasources {
		if d.IsSQL() {
			sqlSources++
		}
	}
	nofile := fdLimit()
	var fits bool
	if s.conns, fits = connLimitsFor(cfg.Server.MaxConnections, nofile, sqlSources); !fits {
		s.log.Warn("server.max_connections leaves fewer file descriptors than the store, datasources and sinks may need (accept retries when they run out)",
			"max_connections", s.conns.Max, "rlimit_nofile", nofile)
	}
	if !cfg.Auth.Configured() {
		s.localUser = opts.LocalUser
		if s.localUser == "" {
			s.localUser = "local"
		}
	}
	var err error
	if s.auth, err = newAuthenticator(cfg.Auth, opts.CSRFKey, s.now); err != nil {
		return nil, fmt.Errorf("web: new: %w", err)
	}
	if s.assets, err = loadAssets(static.FS); err != nil {
		return nil, fmt.Errorf("web: new: %w", err)
	}
	if s.views, err = parseTemplates(views.FS, s.assets); err != nil {
		return nil, fmt.Errorf("web: new: %w", err)
	}
	if s.runbookHTML, err = renderRunbooks(s.runbooks); err != nil {
		return nil, fmt.Errorf("web: new: %w", err)
	}
	s.checkRunbooks = s.runbookNames()
	s.versionSeed = maphash.MakeSeed()
	if cfg.StatusPage != nil {
		s.status = statuspage.New(opts.Store, cfg.StatusPage, s.now)
	}
	s.bg, s.stopBG = context.WithCancel(context.Background())
	s.slos = slo.FromConfig(cfg.SLOs)

	fc := fiber.Config{
		AppName:               "vigil",
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		// A client has readTimeout to send a request (so an idle or slow
		// one gives its connection back), and idleTimeout between requests.
		ReadTimeout:  readTimeout,
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  idleTimeout,
		// Strings from a request (form values, params, cookies) are copies,
		// not views of the connection's buffer that its next request
		// overwrites: the login limits, sessions and the store keep them.
		Immutable: true,
	}
	s.app = fiber.New(fc)
	s.app.Use(recover.New())
	if opts.Sentry != nil {
		s.app.Use(opts.Sentry)
	}
	s.app.Use(s.securityHeaders)
	s.routes()
	return s, nil
}

// Connection timeouts: a new connection must send its request within
// readTimeout, a kept-alive one its next request within idleTimeout.
const (
	readTimeout = 30 * time.Second
	idleTimeout = time.Minute
)

// Limits are the connection caps Serve applies: server.max_connections, or
// one derived from the file-descriptor limit read at New.
func (s *Server) Limits() ConnLimits { return s.conns }

// Serve serves on ln (for example a listener on 127.0.0.1:0) until
// Shutdown, within Limits: connections over a cap are refused (503, or 429
// over the per-address cap) and temporary accept errors such as EMFILE are
// retried. It returns an error when ln fails for good; after Shutdown, nil.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.app.Listener(newLimitListener(ln, s.conns, s.trusted, s.log)); err != nil {
		return fmt.Errorf("web: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits, until ctx is done, for
// requests in flight to finish; redrives still running are cancelled (their
// SQS move tasks too) and recorded as interrupted, and so is a status page
// rebuild.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopBG()
	defer s.statusCache.running.Wait()
	err := s.app.ShutdownWithContext(ctx)
	if err != nil {
		err = fmt.Errorf("web: shutdown: %w", err)
	}
	return errors.Join(err, s.redrives.stop(ctx))
}

// Test serves one request in memory (Fiber's app.Test) and returns the
// response; msTimeout defaults to 30 s (-1: none).
func (s *Server) Test(req *http.Request, msTimeout ...int) (*http.Response, error) {
	timeout := 30_000
	if len(msTimeout) > 0 {
		timeout = msTimeout[0]
	}
	return s.app.Test(req, timeout)
}

// securityHeaders sets the headers every response carries. Scripts only
// come from /static (htmx runs without eval); inline styles are allowed.
// Responses are not cached (pages carry CSRF tokens and private data);
// assets override that.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
	return c.Next()
}

// isAPI reports whether the request is for the JSON API.
func isAPI(c *fiber.Ctx) bool {
	p := c.Path()
	return p == "/api" || strings.HasPrefix(p, "/api/") || p == "/metrics"
}

// isHX reports whether htmx made the request and wants a fragment (a
// boosted request wants the whole page).
func isHX(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-Boosted") != "true"
}
