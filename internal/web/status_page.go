package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/statuspage"
)

// The status page (/status), its JSON (/api/v1/status) and a badge per
// group (/status/badge/<slug>.svg) are for people outside on-call: they
// show only what internal/statuspage puts on the page. Each is rendered
// once per build of the page and served from memory, with an ETag
// (304 on If-None-Match), Cache-Control max-age=30 (public when
// status_page.public, else private) and gzip when the client takes it.

// statusMaxAge is the Cache-Control max-age of the status page.
const statusMaxAge = 30

// Warm builds and renders the status page (when there is one) ahead of
// the first request: its first build counts 90 days of runs. Call it once
// at start, in the background; errors are logged.
func (s *Server) Warm(ctx context.Context) {
	if s.status == nil {
		return
	}
	if _, err := s.refreshStatus(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("status page: first build", "err", err)
	}
}

// statusPage answers GET /status.
func (s *Server) statusPage(c *fiber.Ctx) error {
	r, err := s.statusRendered(c.UserContext())
	if err != nil {
		return err
	}
	return s.sendCached(c, r.html, "text/html; charset=utf-8")
}

// apiStatus answers GET /api/v1/status: the page as JSON (statuspage.Page).
func (s *Server) apiStatus(c *fiber.Ctx) error {
	r, err := s.statusRendered(c.UserContext())
	if err != nil {
		return err
	}
	return s.sendCached(c, r.json, fiber.MIMEApplicationJSONCharsetUTF8)
}

// statusBadge answers GET /status/badge/<slug>.svg: the group's state as a
// small SVG image; 404 for an unknown group.
func (s *Server) statusBadge(c *fiber.Ctx) error {
	slug, ok := strings.CutSuffix(c.Params("file"), ".svg")
	if !ok {
		return fiber.ErrNotFound
	}
	r, err := s.statusRendered(c.UserContext())
	if err != nil {
		return err
	}
	b, ok := r.badges[slug]
	if !ok {
		return fiber.ErrNotFound
	}
	return s.sendCached(c, b, "image/svg+xml; charset=utf-8")
}

// cachedBody is a response rendered once: its bytes, gzipped, and its
// ETag (weak: both encodings share it).
type cachedBody struct {
	plain, gz []byte
	etag      string
}

func newCachedBody(b []byte) (cachedBody, error) {
	sum := sha256.Sum256(b)
	var z bytes.Buffer
	// The default level: a tenth of the time of the best, 8 % larger.
	w, err := gzip.NewWriterLevel(&z, gzip.DefaultCompression)
	if err != nil {
		return cachedBody{}, err
	}
	if _, err := w.Write(b); err != nil {
		return cachedBody{}, err
	}
	if err := w.Close(); err != nil {
		return cachedBody{}, err
	}
	return cachedBody{plain: b, gz: z.Bytes(), etag: `W/"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}

// sendCached answers with body: 304 when If-None-Match names its ETag
// (RFC 9110 §13.1.2, weak comparison), else the body, gzipped when the
// client accepts gzip.
func (s *Server) sendCached(c *fiber.Ctx, body cachedBody, contentType string) error {
	scope := "private"
	if s.status.Public() {
		scope = "public"
	}
	c.Set(fiber.HeaderCacheControl, scope+", max-age="+strconv.Itoa(statusMaxAge))
	c.Set(fiber.HeaderETag, body.etag)
	c.Vary(fiber.HeaderAcceptEncoding)
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), body.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, contentType)
	if acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		c.Response().SetBodyRaw(body.gz)
		return nil
	}
	c.Response().SetBodyRaw(body.plain)
	return nil
}

// etagMatches is If-None-Match's weak comparison: "*" or any listed tag
// equal to etag once a W/ prefix is dropped from both.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding takes gzip (with a q-value
// above zero).
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			v, err := strconv.ParseFloat(q, 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}

// statusRender is one build of the page, rendered.
type statusRender struct {
	page   *statuspage.Page
	html   cachedBody
	json   cachedBody
	badges map[string]cachedBody // by group slug
}

// statusCache keeps the latest rendering of the page. A request that finds
// it older than statuspage.MaxAge starts one rebuild in the background and
// is served the rendering there is (stale-while-revalidate), so only the
// very first request waits for a build (and Warm makes it at start).
type statusCache struct {
	cur     atomic.Pointer[statusRender]
	refresh sync.Mutex // held while a rebuild runs
	running sync.WaitGroup
}

// statusRendered returns the current rendering of the page, building it
// first when there is none yet.
func (s *Server) statusRendered(ctx context.Context) (*statusRender, error) {
	r := s.statusCache.cur.Load()
	if r == nil {
		return s.refreshStatus(ctx)
	}
	if s.now().Sub(r.page.UpdatedAt) >= statuspage.MaxAge && s.statusCache.refresh.TryLock() {
		s.statusCache.running.Go(func() {
			defer s.statusCache.refresh.Unlock()
			if _, err := s.rebuildStatus(s.bg); err != nil && s.bg.Err() == nil {
				s.log.Warn("status page: rebuild (the previous one is served meanwhile)", "err", err)
			}
		})
	}
	return r, nil
}

// refreshStatus builds and renders the page unless a rendering younger
// than statuspage.MaxAge appeared while it waited for another rebuild.
func (s *Server) refreshStatus(ctx context.Context) (*statusRender, error) {
	s.statusCache.refresh.Lock()
	defer s.statusCache.refresh.Unlock()
	if r := s.statusCache.cur.Load(); r != nil && s.now().Sub(r.page.UpdatedAt) < statuspage.MaxAge {
		return r, nil
	}
	return s.rebuildStatus(ctx)
}

// rebuildStatus builds and renders the page and makes it current; call it
// with statusCache.refresh held.
func (s *Server) rebuildStatus(ctx context.Context) (*statusRender, error) {
	p, err := s.status.Build(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.renderStatus(p)
	if err != nil {
		return nil, err
	}
	s.statusCache.cur.Store(r)
	return r, nil
}

func (s *Server) renderStatus(p *statuspage.Page) (*statusRender, error) {
	wrap := func(err error) error { return fmt.Errorf("web: render status page: %w", err) }
	r := &statusRender{page: p, badges: map[string]cachedBody{}}
	set, err := s.views.page("status")
	if err != nil {
		return nil, wrap(err)
	}
	var html bytes.Buffer
	v := View{Page: "status", Data: newStatusView(p), Sandbox: s.demo != nil}
	if err := set.ExecuteTemplate(&html, "layout", v); err != nil {
		return nil, wrap(err)
	}
	js, err := json.Marshal(p)
	if err != nil {
		return nil, wrap(err)
	}
	if r.html, err = newCachedBody(html.Bytes()); err != nil {
		return nil, wrap(err)
	}
	if r.json, err = newCachedBody(js); err != nil {
		return nil, wrap(err)
	}
	for _, g := range p.Groups {
		var svg bytes.Buffer
		if err := set.ExecuteTemplate(&svg, "statuspage_badge", newBadge(g.Name, g.State)); err != nil {
			return nil, wrap(err)
		}
		if r.badges[g.Slug], err = newCachedBody(svg.Bytes()); err != nil {
			return nil, wrap(err)
		}
	}
	return r, nil
}

// statusView is the status page's Data.
type statusView struct {
	Title, Headline string
	State           stateView
	Updated         stamp
	Incidents       []statusIncidentView
	Groups          []statusGroupView
}

// stateView is a state as a badge: the class of the status it matches
// (pass, warn, fail, unknown) and its word.
type stateView struct{ Class, Label string }

func newStateView(st statuspage.State) stateView {
	class := map[statuspage.State]string{statuspage.Operational: "pass", statuspage.Degraded: "warn", statuspage.Down: "fail"}[st]
	if class == "" {
		class = "unknown"
	}
	return stateView{Class: class, Label: st.Label()}
}

// stamp is a time as the public page writes it: absolute, in UTC (the
// page is cached, so "3m ago" would go stale).
type stamp struct{ Text, ISO string }

func newStamp(t time.Time) stamp {
	return stamp{Text: t.UTC().Format("2 Jan 2006 15:04 UTC"), ISO: t.UTC().Format(time.RFC3339)}
}

type statusIncidentView struct {
	Title   string
	State   stateView
	Started stamp
}

type statusGroupView struct {
	Name, Slug string
	Row        statusRowView // the group as a whole
	Checks     []statusRowView
}

type statusRowView struct {
	Name   string
	State  stateView
	Uptime [3]string // 24 h, 7 d, 90 d
	Bar    statusBar
}

func newStatusView(p *statuspage.Page) statusView {
	v := statusView{Title: p.Title, Headline: p.Headline(), State: newStateView(p.State), Updated: newStamp(p.UpdatedAt)}
	for _, in := range p.Incidents {
		v.Incidents = append(v.Incidents, statusIncidentView{Title: in.Title, State: newStateView(in.State), Started: newStamp(in.StartedAt)})
	}
	for _, g := range p.Groups {
		gv := statusGroupView{Name: g.Name, Slug: g.Slug, Row: newStatusRow("All of "+g.Name, g.State, g.Uptime, g.Days)}
		for _, c := range g.Checks {
			gv.Checks = append(gv.Checks, newStatusRow(c.Name, c.State, c.Uptime, c.Days))
		}
		v.Groups = append(v.Groups, gv)
	}
	return v
}

func newStatusRow(name string, st statuspage.State, u statuspage.Uptime, days []statuspage.Day) statusRowView {
	return statusRowView{Name: name, State: newStateView(st), Uptime: [3]string{uptimeText(u.Day), uptimeText(u.Week), uptimeText(u.Quarter)}, Bar: newStatusBar(name, days)}
}

// uptimeText writes an uptime with up to 3 decimals, never rounded up to
// 100 % ("—" without runs).
func uptimeText(v *float64) string {
	if v == nil {
		return "—"
	}
	return slo.Percent(*v)
}

// statusBar is the 90-day bar: an SVG of one unit per day, days of the
// same state drawn as one segment (a thousand checks stay a small page),
// each with its dates and state in a title; Label sums it up for screen
// readers.
type statusBar struct {
	Label    string
	Width    int
	Segments []statusSegment
}

type statusSegment struct {
	X, W  int
	Class string // day-operational, day-degraded, day-down, day-no_data
	Title string
}

func newStatusBar(name string, days []statuspage.Day) statusBar {
	b := statusBar{Width: len(days)}
	n := map[statuspage.State]int{}
	for i := 0; i < len(days); {
		j := i
		for j+1 < len(days) && days[j+1].State == days[i].State {
			j++
		}
		title := days[i].Date + ": " + days[i].State.Label()
		if j > i {
			title = days[i].Date + " to " + days[j].Date + ": " + days[i].State.Label()
		} else if days[i].Uptime != nil {
			title += ", uptime " + uptimeText(days[i].Uptime)
		}
		b.Segments = append(b.Segments, statusSegment{X: i, W: j - i + 1, Class: "day-" + string(days[i].State), Title: title})
		n[days[i].State] += j - i + 1
		i = j + 1
	}
	var parts []string
	for _, st := range []statuspage.State{statuspage.Operational, statuspage.Degraded, statuspage.Down, statuspage.NoData} {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], strings.ToLower(st.Label())))
		}
	}
	b.Label = fmt.Sprintf("%s, last %d days: %s", name, len(days), strings.Join(parts, ", "))
	return b
}

// badge is a group's SVG badge: "<name> | <state>", shields.io style, with
// its text as the image's title.
type badge struct {
	Label, Value                  string
	LabelWidth, ValueWidth, Width int
	LabelX, ValueX                int
	Color                         string
}

// Badge colours: white text on each has a contrast of at least 4.5:1
// (WCAG 2.x 1.4.3).
var badgeColors = map[statuspage.State]string{
	statuspage.Operational: "#116329", statuspage.Degraded: "#7d4e00", statuspage.Down: "#b3261e", statuspage.NoData: "#57606a",
}

func newBadge(name string, st statuspage.State) badge {
	// About 7 pixels a character at 11px Verdana, plus 10 of padding.
	w := func(s string) int { return 7*utf8.RuneCountInString(s) + 10 }
	b := badge{Label: name, Value: st.Label(), Color: badgeColors[st]}
	b.LabelWidth, b.ValueWidth = w(b.Label), w(b.Value)
	b.Width = b.LabelWidth + b.ValueWidth
	b.LabelX, b.ValueX = b.LabelWidth/2, b.LabelWidth+b.ValueWidth/2
	return b
}
