package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/internal/notify/slack"
)

// DefaultSignalsKept is how many of each signal Signals keeps.
const DefaultSignalsKept = 500

// Metric is one DogStatsD line the Datadog sink sent.
type Metric struct {
	At   time.Time
	Line string // e.g. "vigil.check.run:1|c|#env:demo,check:quote-api,kind:http,status:fail"
}

// SentryEvent is one event or check-in the Sentry client sent.
type SentryEvent struct {
	At time.Time
	// Type is "event" for an error or incident event, "check_in" for a cron
	// check-in.
	Type        string
	Level       string   // events only: error, warning, ...
	Message     string   // events only: the message or the first exception's value
	Fingerprint []string // events only
	Tags        map[string]string
	// Monitor and Status describe a check-in: the monitor slug (the check
	// id) and in_progress, ok or error.
	Monitor, Status string
	// JSON is the event as sentry-go would have sent it.
	JSON string
}

// SlackMessage is one message the Slack worker posted to the webhook.
type SlackMessage struct {
	At      time.Time
	Payload slack.Payload // the Block Kit message, to render as Slack would
	JSON    string        // the request body as posted
}

// Signals is what production would have sent, captured in-process: the
// DogStatsD lines the real Datadog sink sends to a UDP listener on
// 127.0.0.1, the events the real Sentry client hands to an in-process
// transport, and the messages the real Slack worker posts to a loopback
// webhook. It keeps the newest DefaultSignalsKept of each. Its methods are
// safe for concurrent use.
type Signals struct {
	now  func() time.Time
	keep int

	udp     *net.UDPConn
	udpDone chan struct{}
	http    *http.Server
	httpLn  net.Listener
	webDone chan struct{}

	mu       sync.Mutex
	metrics  []Metric // oldest first
	events   []SentryEvent
	checkIns []SentryEvent // kept apart: a check-in per run would push the events out
	slack    []SlackMessage
	seq      uint64
}

// SlackHookPath is the path of the capture's Slack webhook.
const SlackHookPath = "/services/demo/slack"

// startSignals opens the DogStatsD listener and the webhook server, both on
// 127.0.0.1 with a free port.
func startSignals(now func() time.Time) (*Signals, error) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("demo: signals: listen udp: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("demo: signals: listen: %w", err)
	}
	s := &Signals{now: now, keep: DefaultSignalsKept, udp: udp, udpDone: make(chan struct{}), httpLn: ln, webDone: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+SlackHookPath, s.slackHook)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.readUDP()
	go func() {
		defer close(s.webDone)
		_ = s.http.Serve(ln) // ErrServerClosed on close
	}()
	return s, nil
}

// DatadogAddr is the DogStatsD listener, 127.0.0.1:<port>.
func (s *Signals) DatadogAddr() string { return s.udp.LocalAddr().String() }

// SlackWebhookURL is the capture's webhook, http://127.0.0.1:<port>/services/demo/slack.
func (s *Signals) SlackWebhookURL() string {
	return "http://" + s.httpLn.Addr().String() + SlackHookPath
}

// SentryDSN is a DSN naming the capture's loopback address. The sandbox's
// Sentry client sends through SentryTransport, never to this address.
func (s *Signals) SentryDSN() string { return "http://demo@" + s.httpLn.Addr().String() + "/1" }

// SentryTransport is the in-process transport the sandbox's Sentry client
// must use: it records each event and sends nothing.
func (s *Signals) SentryTransport() sentry.Transport { return sentryCapture{s} }

// close stops both listeners.
func (s *Signals) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	errs := []error{s.http.Shutdown(ctx), s.udp.Close()}
	<-s.webDone
	<-s.udpDone
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("demo: signals: close: %w", err)
	}
	return nil
}

func (s *Signals) readUDP() {
	defer close(s.udpDone)
	buf := make([]byte, 65536)
	for {
		n, err := s.udp.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		at := s.now()
		s.mu.Lock()
		for line := range strings.SplitSeq(string(buf[:n]), "\n") {
			if line != "" {
				s.metrics = appendKept(s.metrics, Metric{At: at, Line: line}, s.keep)
			}
		}
		s.seq++
		s.mu.Unlock()
	}
}

func (s *Signals) slackHook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	var p slack.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.slack = appendKept(s.slack, SlackMessage{At: s.now(), Payload: p, JSON: string(body)}, s.keep)
	s.seq++
	s.mu.Unlock()
	_, _ = w.Write([]byte("ok"))
}

// record keeps one Sentry event.
func (s *Signals) record(ev *sentry.Event) {
	out := SentryEvent{At: s.now(), Type: "event", Level: string(ev.Level), Message: ev.Message, Fingerprint: ev.Fingerprint, Tags: ev.Tags}
	if out.Message == "" && len(ev.Exception) > 0 {
		out.Message = ev.Exception[len(ev.Exception)-1].Value
	}
	if ev.Type == "check_in" && ev.CheckIn != nil {
		out.Type, out.Level, out.Monitor, out.Status = "check_in", "", ev.CheckIn.MonitorSlug, string(ev.CheckIn.Status)
	}
	if b, err := json.Marshal(ev); err == nil {
		out.JSON = string(b)
	}
	s.mu.Lock()
	if out.Type == "check_in" {
		s.checkIns = appendKept(s.checkIns, out, s.keep)
	} else {
		s.events = appendKept(s.events, out, s.keep)
	}
	s.seq++
	s.mu.Unlock()
}

// Metrics returns the newest n DogStatsD lines, newest first (all kept
// when n <= 0).
func (s *Signals) Metrics(n int) []Metric {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newest(s.metrics, n)
}

// SentryEvents returns the newest n Sentry events (errors and incidents,
// not check-ins), newest first (all kept when n <= 0). Each kind is kept
// apart: however many check-ins arrive, the newest DefaultSignalsKept
// events stay.
func (s *Signals) SentryEvents(n int) []SentryEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newest(s.events, n)
}

// SentryCheckIns returns the newest n cron check-ins, newest first (all
// kept when n <= 0).
func (s *Signals) SentryCheckIns(n int) []SentryEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newest(s.checkIns, n)
}

// SlackMessages returns the newest n Slack messages, newest first (all
// kept when n <= 0).
func (s *Signals) SlackMessages(n int) []SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return newest(s.slack, n)
}

// Version changes whenever a signal arrives or the capture is cleared: a
// page can poll it to refresh only when something changed.
func (s *Signals) Version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Clear forgets every captured signal.
func (s *Signals) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics, s.events, s.checkIns, s.slack = nil, nil, nil, nil
	s.seq++
}

func appendKept[T any](xs []T, x T, keep int) []T {
	xs = append(xs, x)
	if len(xs) > keep {
		xs = slices.Delete(xs, 0, len(xs)-keep)
	}
	return xs
}

func newest[T any](xs []T, n int) []T {
	if n <= 0 || n > len(xs) {
		n = len(xs)
	}
	out := slices.Clone(xs[len(xs)-n:])
	slices.Reverse(out)
	return out
}

// sentryCapture is a sentry.Transport that records events in Signals.
type sentryCapture struct{ s *Signals }

func (sentryCapture) Configure(sentry.ClientOptions)        {}
func (c sentryCapture) SendEvent(ev *sentry.Event)          { c.s.record(ev) }
func (sentryCapture) Flush(time.Duration) bool              { return true }
func (sentryCapture) FlushWithContext(context.Context) bool { return true }
func (sentryCapture) Close()                                {}
