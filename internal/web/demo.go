package web

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/demo"
)

// Sandbox is what the training sandbox's pages need of *demo.Sandbox
// (vigil demo): its scenarios, their exercises, the pages trainees open,
// and the signals production would have sent.
type Sandbox interface {
	// Scenarios returns every scenario with its state, in display order.
	Scenarios() []demo.ScenarioState
	// Inject and Clear break and repair the sandbox as a scenario says;
	// an unknown name is demo.ErrUnknownScenario.
	Inject(ctx context.Context, name string) error
	Clear(ctx context.Context, name string) error
	// Reset clears every scenario and forgets progress and signals.
	Reset(ctx context.Context) error
	// Viewed is told of every page served, for the exercises.
	Viewed(actor, path string)
	// Exercises returns each injected scenario's checklist and progress.
	Exercises(ctx context.Context) ([]demo.Exercise, error)
	// Signals is the in-process capture of Datadog, Sentry and Slack.
	Signals() *demo.Signals
}

// demoRoutes registers the training sandbox's pages and actions, in demo
// mode only: without a sandbox /demo is not found. Trainees (viewers) see
// the scenarios, the exercises and the signals; only the trainer (admin)
// injects, clears and resets.
func (s *Server) demoRoutes() {
	if s.demo == nil {
		return
	}
	s.page("/demo", RoleViewer, s.demoShow)
	s.page("/demo/signals", RoleViewer, s.demoSignals)
	s.action("/demo/scenarios/:name/inject", RoleAdmin, s.demoInject)
	s.action("/demo/scenarios/:name/clear", RoleAdmin, s.demoClear)
	s.action("/demo/reset", RoleAdmin, s.demoReset)
}

// demoViewed tells the sandbox which page each user was served, so that
// exercise steps such as "find the failing rows" and "open the runbook"
// complete. It counts a successful GET of a whole page by a known user:
// not htmx refreshes (a poll is not someone opening a page), not the API.
func (s *Server) demoViewed(c *fiber.Ctx) error {
	err := c.Next()
	if err != nil || c.Method() != fiber.MethodGet || isHX(c) || isAPI(c) || c.Response().StatusCode() >= 300 {
		return err
	}
	if u := currentUser(c); u != nil {
		// Fiber's strings point into a buffer it reuses: keep a copy.
		s.demo.Viewed(u.Actor(), strings.Clone(c.Path()))
	}
	return nil
}

// demoNotices are the messages ?notice= may show on /demo.
var demoNotices = map[string]string{
	"injected": "Scenario injected: its check runs now and should fail within seconds.",
	"cleared":  "Scenario cleared: its check runs now and should recover within seconds.",
	"reset":    "Sandbox reset: every scenario cleared, progress and signals forgotten.",
}

// demoData is the /demo page's Data.
type demoData struct {
	Scenarios []demoScenario
	Exercises []demoExercise
	Notice    string
	Poll      string
}

// demoScenario is one injectable scenario as the page shows it.
type demoScenario struct {
	Name, Description string
	Check, Runbook    string // the check that should fail, and its runbook
	Active            bool
	InjectedAt        when // zero when not injected since the last reset
	ClearedAt         when
}

// demoExercise is a scenario's checklist with its progress.
type demoExercise struct {
	Scenario, Check string
	Active          bool
	InjectedAt      when
	ClearedAt       when
	Done, Total     int
	Steps           []demoStep
}

// demoStep is one step of an exercise: done when the sandbox saw it
// happen (by whom, when, and the evidence).
type demoStep struct {
	ID, Title, Hint string
	NeedsOperator   bool // production allows it to operators only
	Done            bool
	At              when
	By, Evidence    string
}

// demoShow shows the sandbox (GET /demo): the scenarios, with Inject and
// Clear for the trainer, and the exercises' progress; htmx polls get
// demo_exercises.
func (s *Server) demoShow(c *fiber.Ctx) error {
	data, err := s.demoData(c)
	if err != nil {
		return err
	}
	data.Notice = demoNotices[c.Query("notice")]
	return s.renderPolled(c, "demo_sandbox", "demo_exercises", data)
}

func (s *Server) demoData(c *fiber.Ctx) (demoData, error) {
	ctx := c.UserContext()
	vc := s.viewClock(c)
	d := demoData{Poll: s.pollSeconds(true)}
	for _, sc := range s.demo.Scenarios() {
		d.Scenarios = append(d.Scenarios, demoScenario{
			Name: sc.Name, Description: sc.Description, Check: sc.Check, Runbook: sc.Runbook,
			Active: sc.Active, InjectedAt: vc.at(sc.InjectedAt), ClearedAt: vc.at(sc.ClearedAt),
		})
	}
	exercises, err := s.demo.Exercises(ctx)
	if err != nil {
		return demoData{}, err
	}
	for _, ex := range exercises {
		e := demoExercise{
			Scenario: ex.Scenario.Name, Check: ex.Scenario.Check, Active: ex.Active,
			InjectedAt: vc.at(ex.InjectedAt), ClearedAt: vc.at(ex.ClearedAt),
			Done: ex.Done(), Total: len(ex.Steps),
		}
		for _, st := range ex.Steps {
			e.Steps = append(e.Steps, demoStep{
				ID: st.ID, Title: st.Title, Hint: st.Hint, Done: st.Done,
				NeedsOperator: st.ID == demo.StepAck || st.ID == demo.StepSilence || st.ID == demo.StepAct, At: vc.at(st.At), By: st.By, Evidence: st.Evidence,
			})
		}
		d.Exercises = append(d.Exercises, e)
	}
	return d, nil
}

// demoInject injects a scenario (POST /demo/scenarios/:name/inject,
// admin); 404 for an unknown scenario.
func (s *Server) demoInject(c *fiber.Ctx) error {
	return s.demoChange(c, "demo-inject", "injected", s.demo.Inject)
}

// demoClear clears a scenario (POST /demo/scenarios/:name/clear, admin);
// 404 for an unknown scenario.
func (s *Server) demoClear(c *fiber.Ctx) error {
	return s.demoChange(c, "demo-clear", "cleared", s.demo.Clear)
}

// demoChange applies change to the scenario named in the path, audits it
// and answers: htmx gets demo_exercises, a plain form 303 to /demo.
func (s *Server) demoChange(c *fiber.Ctx, action, notice string, change func(context.Context, string) error) error {
	name := strings.Clone(c.Params("name")) // the sandbox keeps it
	if err := change(c.UserContext(), name); err != nil {
		if errors.Is(err, demo.ErrUnknownScenario) {
			return fiber.NewError(fiber.StatusNotFound, "not found")
		}
		return err
	}
	if err := s.audit(c, action, name, "training sandbox scenario "+notice); err != nil {
		return err
	}
	return s.demoAnswer(c, notice)
}

// demoReset clears every scenario and forgets the exercises and signals
// (POST /demo/reset, admin).
func (s *Server) demoReset(c *fiber.Ctx) error {
	if err := s.demo.Reset(c.UserContext()); err != nil {
		return err
	}
	if err := s.audit(c, "demo-reset", "sandbox", "training sandbox reset"); err != nil {
		return err
	}
	return s.demoAnswer(c, "reset")
}

func (s *Server) demoAnswer(c *fiber.Ctx, notice string) error {
	if !isHX(c) {
		return s.seeOther(c, "/demo?notice="+notice)
	}
	data, err := s.demoData(c)
	if err != nil {
		return err
	}
	data.Notice = demoNotices[notice]
	return s.render(c, "demo_sandbox", "demo_exercises", data)
}

// How many of each signal the panel shows.
const (
	signalsSlack    = 20
	signalsEvents   = 20
	signalsCheckIns = 30
	signalsMetrics  = 60
)

// demoSignalsData is the signals panel's Data.
type demoSignalsData struct {
	Version  uint64 // of the capture when this was read
	Slack    []slackMessageView
	Events   []sentryEventView // errors and incidents
	CheckIns []sentryEventView // cron check-ins
	Metrics  []metricView
}

// sentryEventView is a captured Sentry event or check-in.
type sentryEventView struct {
	At                       when
	Level, Message, Monitor  string
	Status, Fingerprint, Tag string
	JSON                     string
}

// metricView is one DogStatsD line.
type metricView struct {
	At   when
	Line string
}

// demoSignals shows what production would have sent (GET
// /demo/signals?since=VERSION): Slack messages as Slack shows them,
// Sentry events and check-ins, and DogStatsD lines, newest first. An htmx
// poll whose since is the capture's version gets 204 No Content (nothing
// changed; htmx keeps the panel), otherwise demo_signal_feed.
func (s *Server) demoSignals(c *fiber.Ctx) error {
	sig := s.demo.Signals()
	version := sig.Version()
	if since := c.Query("since"); isHX(c) && since != "" && since == strconv.FormatUint(version, 10) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	d := demoSignalsData{Version: version}
	vc := s.viewClock(c)
	for _, m := range sig.SlackMessages(signalsSlack) {
		d.Slack = append(d.Slack, slackMessage(m, vc))
	}
	for _, ev := range sig.SentryEvents(signalsEvents) {
		d.Events = append(d.Events, sentryEventView{At: vc.at(ev.At), Level: ev.Level, Message: ev.Message,
			Fingerprint: strings.Join(ev.Fingerprint, ", "), Tag: ev.Tags["check"], JSON: ev.JSON})
	}
	for _, ev := range sig.SentryCheckIns(signalsCheckIns) {
		d.CheckIns = append(d.CheckIns, sentryEventView{At: vc.at(ev.At), Monitor: ev.Monitor, Status: ev.Status, Tag: ev.Tags["check"]})
	}
	for _, m := range sig.Metrics(signalsMetrics) {
		d.Metrics = append(d.Metrics, metricView{At: vc.at(m.At), Line: m.Line})
	}
	return s.render(c, "demo_signals", "demo_signal_feed", d)
}
