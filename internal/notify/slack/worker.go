// Package slack delivers vigil's alerts to Slack incoming webhooks as Block
// Kit messages.
//
// The engine writes each alert (an engine.Message) to the store's outbox in
// the same transaction as the transition that caused it. A Worker takes due
// messages from the outbox, renders them and posts them, then marks every
// message a post carried (one, or a whole group) delivered in one commit
// right after Slack's 2xx. So a crash, a kill -9 or a Slack outage loses no
// alert, and a message is re-sent only if the process died between Slack's
// 200 and that MarkDeliveredAll commit (one small write, milliseconds); a
// kill never leaves part of a group marked.
//
// Delivery rules:
//
//   - Per check, messages are posted in the order they were enqueued; the
//     worker stops at a check's first failure so a later alert never
//     overtakes an earlier one.
//   - HTTP 429 pauses the whole webhook for Retry-After (seconds or an HTTP
//     date; 30s when absent) before anything else is posted to it.
//   - 5xx and network errors retry with exponential backoff and jitter,
//     capped at Options.MaxBackoff (10 min), for as long as it takes; the
//     webhook pauses for that backoff too, so an outage is not hammered.
//   - Other 4xx answers (a bad payload, a revoked webhook) are logged and
//     retried after Options.RejectedBackoff (1 hour).
//   - Grouping, like Alertmanager's group_wait: an opened alert waits up to
//     Options.GroupWait for more openings to its webhook (the first never
//     longer: the wait ends at the last poll before the first opening is
//     GroupWait old). Then the openings waiting (created within
//     Options.GroupWindow, 1 min, of the first) go as one grouped message
//     when they are more than Options.GroupAbove (5), or when they are
//     several and, with the openings posted to that webhook in the minute
//     before, more than GroupAbove (a burst longer than GroupWait); else one
//     by one. Every message the group carries is marked delivered at once.
//
// Webhook URLs are secrets: they never appear in logs, errors or the
// outbox's last_error.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/store"
)

// Outbox is the part of the store a Worker uses; *store.Store implements it.
type Outbox interface {
	NextOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxMessage, error)
	// MarkDeliveredAll marks every message in ids delivered in one
	// transaction, or none of them.
	MarkDeliveredAll(ctx context.Context, ids []int64, at time.Time) error
	MarkFailed(ctx context.Context, id int64, nextAttempt time.Time, cause error) error
}

// Route sends the alerts of checks with this owner or tag to another
// webhook. An empty Owner or Tag matches nothing.
type Route struct {
	Owner      string
	Tag        string
	WebhookURL string
}

// Defaults for Options fields left at zero.
const (
	DefaultPollInterval    = time.Second
	DefaultMaxBackoff      = 10 * time.Minute
	DefaultRejectedBackoff = time.Hour
	DefaultRetryAfter      = 30 * time.Second
	DefaultGroupAbove      = 5
	DefaultGroupWindow     = time.Minute
	DefaultBatch           = 100
	minBackoff             = time.Second
)

// Options configure a Worker.
type Options struct {
	// WebhookURL receives every alert no Route claims. Required unless
	// every alert is routed.
	WebhookURL string
	// Routes are tried in order; the first whose Owner equals the check's
	// owner or whose Tag is one of the check's tags wins.
	Routes []Route
	// Links makes the dashboard and runbook links (no links when empty).
	Links Links
	// Client posts the messages (a client with a 10s timeout when nil).
	Client *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives rejected messages and retries (discarded when nil).
	Logger *slog.Logger
	// PollInterval is how often Run looks for due messages (1s).
	PollInterval time.Duration
	// MaxBackoff caps the retry delay after a 5xx or network error (10 min).
	MaxBackoff time.Duration
	// RejectedBackoff is the retry delay after a 4xx other than 429 (1h).
	RejectedBackoff time.Duration
	// GroupAbove is how many opened alerts due at once are sent one by one;
	// more are grouped (5; negative: never group).
	GroupAbove int
	// GroupWindow is how close in time grouped alerts were created (1 min).
	GroupWindow time.Duration
	// GroupWait is how long an opened alert waits for others to its
	// webhook before it is sent (0: not at all).
	GroupWait time.Duration
	// Batch is how many due messages one pass reads (100).
	Batch int
}

// Worker delivers the outbox to Slack. Run one Worker per store at a time
// (with several replicas, on the lease holder); Run and Drain must not
// overlap.
type Worker struct {
	box    Outbox
	o      Options
	paused map[string]time.Time // webhook URL -> no posts before
	// opened holds, per webhook, the creation times of the opened alerts
	// posted to it within the last GroupWindow (for bursts longer than
	// GroupWait).
	opened map[string][]time.Time
	// wake is when the next held opening is due (zero: none held).
	wake time.Time
}

// NewWorker returns a worker delivering box's messages. It fails when no
// webhook is configured or a webhook URL is not an absolute http(s) URL
// (the error does not quote the URL).
func NewWorker(box Outbox, o Options) (*Worker, error) {
	if o.WebhookURL == "" && len(o.Routes) == 0 {
		return nil, errors.New("slack: no webhook URL")
	}
	for _, u := range append([]string{o.WebhookURL}, routeURLs(o.Routes)...) {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return nil, fmt.Errorf("slack: webhook URL %s is not an http(s) URL", RedactURL(u))
		}
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.PollInterval = orDefault(o.PollInterval, DefaultPollInterval)
	o.MaxBackoff = orDefault(o.MaxBackoff, DefaultMaxBackoff)
	o.RejectedBackoff = orDefault(o.RejectedBackoff, DefaultRejectedBackoff)
	o.GroupWindow = orDefault(o.GroupWindow, DefaultGroupWindow)
	if o.GroupAbove == 0 {
		o.GroupAbove = DefaultGroupAbove
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	return &Worker{box: box, o: o, paused: map[string]time.Time{}, opened: map[string][]time.Time{}}, nil
}

func routeURLs(rs []Route) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.WebhookURL)
	}
	return out
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Stats counts what one delivery pass did.
type Stats struct {
	Delivered int // messages marked delivered (grouped ones included)
	Posts     int // successful webhook posts
	Failed    int // messages marked failed
	Waiting   int // due messages left for later (paused webhook, or behind a failed message of their check)
}

// Run delivers due messages until ctx ends, polling every PollInterval
// (sooner while there is more to send, later while every webhook is paused).
// It returns nil when ctx ends; store errors are logged and retried.
func (w *Worker) Run(ctx context.Context) error {
	for {
		st, err := w.DeliverDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.o.Logger.Error("slack: deliver outbox", "err", err)
		}
		wait := w.o.PollInterval
		if err == nil && st.Delivered+st.Failed >= w.o.Batch {
			wait = 0 // a full batch: more may be due
		}
		if !w.wake.IsZero() {
			wait = max(min(wait, w.wake.Sub(w.o.Now())), 0) // a held group comes due
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Drain delivers every message that is due now, waiting for paused
// webhooks but not for GroupWait, until no due message is left or ctx ends
// (then it returns ctx's error). Messages waiting for a later retry stay in
// the outbox for the next start. Call it on shutdown, with a deadline.
func (w *Worker) Drain(ctx context.Context) error {
	for {
		st, err := w.deliverDue(ctx, true)
		if err != nil {
			return fmt.Errorf("slack: drain: %w", err)
		}
		if st.Delivered+st.Failed+st.Waiting == 0 {
			return nil
		}
		if st.Delivered+st.Failed == 0 {
			// Only paused webhooks hold messages back: wait for the pause.
			wait := w.pauseLeft()
			if wait <= 0 {
				return nil // waiting on retries that are not due yet
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("slack: drain: %w", ctx.Err())
			case <-t.C:
			}
		}
	}
}

func (w *Worker) pauseLeft() time.Duration {
	now := w.o.Now()
	var left time.Duration
	for _, until := range w.paused {
		if d := until.Sub(now); d > 0 && (left == 0 || d < left) {
			left = d
		}
	}
	return left
}

// item is a due message with where it goes.
type item struct {
	msg     store.OutboxMessage
	alert   engine.Message
	decoded bool
	webhook string
}

// DeliverDue makes one delivery pass over the messages due now: it posts
// them in order (grouping a burst of opened alerts), marks each delivered
// or failed, and returns what it did. The error is a store error; Slack's
// answers are recorded on the messages, not returned.
func (w *Worker) DeliverDue(ctx context.Context) (Stats, error) {
	return w.deliverDue(ctx, false)
}

// deliverDue is DeliverDue; flush sends held openings without waiting for
// the rest of GroupWait.
func (w *Worker) deliverDue(ctx context.Context, flush bool) (Stats, error) {
	var st Stats
	now := w.o.Now()
	w.wake = time.Time{}
	msgs, err := w.box.NextOutbox(ctx, now, w.o.Batch)
	if err != nil {
		return st, fmt.Errorf("slack: next messages: %w", err)
	}
	items := make([]item, 0, len(msgs))
	for _, m := range msgs {
		it := item{msg: m}
		if a, err := engine.DecodeMessage(m.Payload); err == nil {
			it.alert, it.decoded = a, true
		} else {
			w.o.Logger.Warn("slack: unreadable alert payload, sending a plain one", "id", m.ID, "check", m.CheckID, "err", err)
			it.alert = engine.Message{Kind: m.Kind, Check: m.CheckID, IncidentID: m.IncidentID, At: m.CreatedAt}
		}
		it.webhook = w.webhookFor(it.alert)
		items = append(items, it)
	}
	blocked := map[string]bool{} // checks with an earlier message not delivered in this pass
	done := map[int64]bool{}
	if w.o.GroupAbove >= 0 {
		if err := w.deliverGroups(ctx, items, now, flush, done, blocked, &st); err != nil {
			return st, err
		}
	}
	for _, it := range items {
		if done[it.msg.ID] {
			continue
		}
		if blocked[it.msg.CheckID] || w.isPaused(it.webhook) {
			blocked[it.msg.CheckID] = true
			st.Waiting++
			continue
		}
		ok, err := w.post(ctx, it.webhook, Render(it.alert, w.o.Links), []store.OutboxMessage{it.msg})
		if err != nil {
			return st, err
		}
		if ok {
			st.Posts++
			st.Delivered++
			if it.msg.Kind == store.OutboxOpened {
				w.noteOpened(it.webhook, it.msg.CreatedAt)
			}
		} else {
			blocked[it.msg.CheckID] = true
			st.Failed++
		}
	}
	return st, nil
}

// deliverGroups holds or groups the opened alerts due: per webhook, those
// that are the first due message of their check. While the earliest is
// younger than GroupWait they all wait (unless flush); then those created
// within GroupWindow of the earliest go as one message when grouped (see
// the package comment), else they are left for the one-by-one pass.
func (w *Worker) deliverGroups(ctx context.Context, items []item, now time.Time, flush bool, done map[int64]bool, blocked map[string]bool, st *Stats) error {
	seen := map[string]bool{}
	byHook := map[string][]item{}
	var hooks []string
	for _, it := range items {
		first := !seen[it.msg.CheckID]
		seen[it.msg.CheckID] = true
		if !first || !it.decoded || it.msg.Kind != store.OutboxOpened || w.isPaused(it.webhook) {
			continue
		}
		if _, ok := byHook[it.webhook]; !ok {
			hooks = append(hooks, it.webhook)
		}
		byHook[it.webhook] = append(byHook[it.webhook], it)
	}
	for _, hook := range hooks {
		group := byHook[hook]
		start := group[0].msg.CreatedAt
		for _, it := range group {
			if it.msg.CreatedAt.Before(start) {
				start = it.msg.CreatedAt
			}
		}
		// Hold until the last poll before the earliest is GroupWait old.
		if release := start.Add(w.o.GroupWait - w.o.PollInterval); !flush && now.Before(release) {
			for _, it := range group {
				done[it.msg.ID], blocked[it.msg.CheckID] = true, true
				st.Waiting++
			}
			if w.wake.IsZero() || release.Before(w.wake) {
				w.wake = release
			}
			continue
		}
		group = slices.DeleteFunc(group, func(it item) bool { return it.msg.CreatedAt.Sub(start) > w.o.GroupWindow })
		if len(group) <= w.o.GroupAbove && (len(group) < 2 || len(group)+w.recentOpenings(hook, start) <= w.o.GroupAbove) {
			continue
		}
		alerts := make([]engine.Message, len(group))
		msgs := make([]store.OutboxMessage, len(group))
		for i, it := range group {
			alerts[i], msgs[i] = it.alert, it.msg
			done[it.msg.ID] = true
		}
		ok, err := w.post(ctx, hook, RenderGroup(alerts, w.o.Links), msgs)
		if err != nil {
			return err
		}
		if ok {
			st.Posts++
			st.Delivered += len(msgs)
			for _, m := range msgs {
				w.noteOpened(hook, m.CreatedAt)
			}
			continue
		}
		st.Failed += len(msgs)
		for _, m := range msgs {
			blocked[m.CheckID] = true
		}
	}
	return nil
}

// noteOpened remembers that an opened alert created at was posted to hook,
// forgetting those created more than GroupWindow before the newest.
func (w *Worker) noteOpened(hook string, at time.Time) {
	newest := at
	for _, t := range w.opened[hook] {
		if t.After(newest) {
			newest = t
		}
	}
	from := newest.Add(-w.o.GroupWindow)
	w.opened[hook] = append(slices.DeleteFunc(w.opened[hook], func(t time.Time) bool { return t.Before(from) }), at)
}

// recentOpenings counts the opened alerts posted to hook that were created
// within GroupWindow before since (or later).
func (w *Worker) recentOpenings(hook string, since time.Time) int {
	from := since.Add(-w.o.GroupWindow)
	n := 0
	for _, at := range w.opened[hook] {
		if !at.Before(from) {
			n++
		}
	}
	return n
}

func (w *Worker) webhookFor(m engine.Message) string {
	for _, r := range w.o.Routes {
		if (r.Owner != "" && r.Owner == m.Owner) || (r.Tag != "" && slices.Contains(m.Tags, r.Tag)) {
			return r.WebhookURL
		}
	}
	return w.o.WebhookURL
}

func (w *Worker) isPaused(hook string) bool {
	until, ok := w.paused[hook]
	if !ok {
		return false
	}
	if !w.o.Now().Before(until) {
		delete(w.paused, hook)
		return false
	}
	return true
}

// post sends p to hook on behalf of msgs and records the outcome on each:
// all delivered in one commit after a 2xx, failed with their retry time
// otherwise. ok reports delivery; the error is a store error only.
func (w *Worker) post(ctx context.Context, hook string, p Payload, msgs []store.OutboxMessage) (ok bool, err error) {
	status, header, cause := w.send(ctx, hook, p)
	now := w.o.Now()
	if cause == nil {
		ids := make([]int64, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		if err := w.box.MarkDeliveredAll(context.WithoutCancel(ctx), ids, now); err != nil {
			return true, fmt.Errorf("slack: mark messages %v delivered: %w", ids, err)
		}
		return true, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err() // shutting down: not Slack's fault, no attempt recorded
	}
	var next time.Time
	switch {
	case status == http.StatusTooManyRequests:
		next = now.Add(retryAfter(header.Get("Retry-After"), now))
		w.paused[hook] = next
		w.o.Logger.Warn("slack: rate limited", "webhook", RedactURL(hook), "retry_at", next)
	case status >= 400 && status < 500:
		next = now.Add(w.o.RejectedBackoff)
		w.o.Logger.Error("slack: message rejected", "webhook", RedactURL(hook), "status", status, "err", cause,
			"check", msgs[0].CheckID, "message", msgs[0].ID, "retry_at", next)
	default: // 5xx, network, timeout
		next = now.Add(w.backoff(msgs[0].Attempts))
		w.paused[hook] = next
		w.o.Logger.Warn("slack: delivery failed", "webhook", RedactURL(hook), "err", cause, "retry_at", next)
	}
	for _, m := range msgs {
		if err := w.box.MarkFailed(context.WithoutCancel(ctx), m.ID, next, cause); err != nil {
			return false, fmt.Errorf("slack: mark message %d failed: %w", m.ID, err)
		}
	}
	return false, nil
}

// send posts p and returns Slack's status and headers; cause is nil only
// for a 2xx, and never contains the webhook URL.
func (w *Worker) send(ctx context.Context, hook string, p Payload) (int, http.Header, error) {
	body, err := p.JSON()
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("slack: post to %s: %w", RedactURL(hook), redactErr(err, hook))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.o.Client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("slack: post: %w", redactErr(err, hook))
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, resp.Header, nil
	}
	return resp.StatusCode, resp.Header, fmt.Errorf("slack: post to %s: %s: %s", RedactURL(hook), resp.Status,
		strings.ReplaceAll(datasource.RedactSecrets(strings.TrimSpace(string(text))), hook, RedactURL(hook)))
}

// backoff is the delay before retry number attempts+1: 1s doubling per
// attempt, capped at MaxBackoff, with jitter in its upper half.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.o.MaxBackoff
	if attempts < 30 {
		d = min(minBackoff<<attempts, w.o.MaxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return DefaultRetryAfter
}

// RedactURL returns a webhook URL with its secret path hidden: scheme and
// host only ("https://hooks.slack.com/…").
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[webhook]"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// redactErr replaces the webhook URL in err's text (a *url.Error quotes it).
func redactErr(err error, hook string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		c := *ue
		c.URL = RedactURL(hook)
		c.Err = redactErr(ue.Err, hook)
		return &c
	}
	if strings.Contains(err.Error(), hook) {
		return errors.New(strings.ReplaceAll(err.Error(), hook, RedactURL(hook)))
	}
	return err
}

// redact hides secrets in text quoted in a message (a check's error).
func redact(s string) string { return datasource.RedactSecrets(s) }
