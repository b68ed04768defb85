package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigilhq/vigil/internal/browsertest"
	"github.com/vigilhq/vigil/internal/demo"
)

// readmeDemoScreenshot is the README's picture of the training sandbox: a
// failing check's page under the sandbox banner.
const readmeDemoScreenshot = "../../static/readme-demo.png"

// demoCheckKinds is the kind of each check the sandbox configures
// (internal/demo/sandbox.yaml.tmpl), as the overview must show it.
var demoCheckKinds = map[string]string{
	"missing-endorsements": "endorsements",
	"duplicate-documents":  "duplicates",
	"status-transitions":   "transitions",
	"policy-events-dlq":    "sqs_dlq",
	"warehouse-freshness":  "freshness",
	"quote-api":            "http",
	"landing-freshness":    "s3_freshness",
}

// TestDemoInBrowser runs a training session on the real `vigil demo` in
// headless chromium: the trainer injects each scenario from the sandbox
// page; on-call finds the failing check on the overview, opens it and its
// runbook and acknowledges the incident; the trainer watches the exercise
// record those steps, then clears the scenario; on-call sees the check
// recover, and a trainee watching the signals panel sees the Slack
// messages arrive, rendered as Slack shows them, without reloading.
// VIGIL_UPDATE_SCREENSHOT=1 also rewrites the README's demo screenshot.
func TestDemoInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	base, logs := startDemoBinary(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vigil demo logs:\n%s", logs)
		}
	})

	trainer := browserTab{t: t, ctx: b.Tab(t), base: base}
	trainer.open("/demo")
	trainer.logIn("trainer", "trainer-demo")
	if loc := trainer.location(); loc != base+"/demo" {
		t.Fatalf("after logging in the trainer is on %s, want /demo", loc)
	}
	if got := trainer.text(".sandbox-banner"); !strings.HasPrefix(got, "Training sandbox — nothing is paged.") {
		t.Errorf("banner reads %q", got)
	}
	oncall := browserTab{t: t, ctx: b.Tab(t), base: base}
	oncall.open("/")
	oncall.logIn("oncall", "oncall-demo")
	trainee := browserTab{t: t, ctx: b.Tab(t), base: base}
	trainee.open("/demo/signals")
	trainee.logIn("trainee", "trainee-demo")
	if loc := trainee.location(); loc != base+"/demo/signals" {
		t.Fatalf("after logging in the trainee is on %s, want /demo/signals", loc)
	}
	tabEval[chromedp.Void](trainee, `window.vigilBrowserTest = "same page"`)
	if n := tabEval[int](trainee, `document.querySelectorAll("main form[method=post], main button").length`); n != 0 {
		t.Errorf("the trainee is offered %d actions on the signals panel", n)
	}

	for _, sc := range demo.Catalog() {
		t.Run(sc.Name, func(t *testing.T) {
			trainer.t, oncall.t, trainee.t = t, t, t
			checkPath := "/checks/" + sc.Check
			row := "#scenario-" + sc.Name

			// The trainer injects it from the sandbox page (htmx).
			trainer.pressUntil(row+` form[action$="/inject"] button`, `!!document.querySelector("`+row+`.scenario-active")`, "the scenario to show as injected")

			// On-call finds the failing check on the overview, with its kind.
			overviewStatus := `document.querySelector('#overview-body a[href="` + checkPath + `"]')?.closest("tr").querySelector(".status")?.textContent`
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
				oncall.open("/")
				if tabEval[string](oncall, `String(`+overviewStatus+`)`) == "fail" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s is not failing on the overview 20s after the injection", sc.Check)
				}
			}
			if kind := tabEval[string](oncall, `document.querySelector('#overview-body a[href="`+checkPath+`"]').closest("tr").cells[3].textContent.trim()`); kind != demoCheckKinds[sc.Check] {
				t.Errorf("the overview shows %s's kind as %q, want %q", sc.Check, kind, demoCheckKinds[sc.Check])
			}
			oncall.clickAndLoad(`#overview-body a[href="` + checkPath + `"]`)
			if got := oncall.status(); got != "fail" {
				t.Errorf("check page status = %q, want fail", got)
			}
			if len(oncall.failingRows()) == 0 {
				t.Errorf("the check page shows no failing rows")
			}
			if m := oncall.runbookSection("Meaning"); m == "" {
				t.Errorf("the check page shows no runbook Meaning section")
			}
			oncall.clickAndLoad(`section.runbook h2 a[href="/runbooks/` + sc.Runbook + `"]`)
			if h := oncall.text("main h1"); h == "" {
				t.Errorf("the runbook page %s has no title", sc.Runbook)
			}
			// The first scenario's incident is acknowledged by the trainee, a
			// viewer: the sandbox lets trainees act on its checks, and says
			// that production would need an operator.
			acker, ackerName := oncall, "oncall"
			if sc.Name == demo.Catalog()[0].Name {
				acker, ackerName = trainee, "trainee"
			}
			acker.open(checkPath)
			if acker == trainee {
				if note := trainee.text("#ack-form"); !strings.Contains(note, "In production acknowledging needs the operator role") {
					t.Errorf("the trainee is not told that acking needs an operator in production: %q", note)
				}
			}
			acker.typeInto("#ack-note", "On it: following the runbook for "+sc.Name)
			acker.clickAndLoad(`form[action$="/ack"] button[type=submit]`)
			if inc := acker.text("#incident"); !strings.Contains(inc, "acknowledged by "+ackerName) {
				t.Errorf("incident after ack reads %q", inc)
			}
			if acker == trainee {
				trainee.open("/demo/signals")
				tabEval[chromedp.Void](trainee, `window.vigilBrowserTest = "same page"`)
			}
			oncall.open(checkPath)
			if sc.Name == "reissue-missing-copy" && os.Getenv(updateScreenshotEnv) == "1" {
				png := browsertest.ScreenshotDownTo(t, oncall.ctx, "#check-rows table") // banner, status, incident, rows, runbook's start
				if err := os.WriteFile(readmeDemoScreenshot, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", readmeDemoScreenshot)
			}
			b.Screenshot(t, oncall.ctx, sc.Name+"-acked")

			// The trainer's page (polling) records what on-call did.
			exercise := "#exercise-" + sc.Name
			for _, step := range []string{demo.StepFindRows, demo.StepOpenRunbook, demo.StepAck} {
				by := "oncall"
				if step == demo.StepAck {
					by = ackerName
				}
				trainer.waitUntil(`document.querySelector('`+exercise+` li.step-done[data-step="`+step+`"] .step-who')?.textContent.includes("by `+by+`") === true`,
					"the exercise to show step "+step+" done by "+by)
			}
			b.Screenshot(t, trainer.ctx, sc.Name+"-exercise")

			// Cleared, the check recovers and Slack says so.
			trainer.pressUntil(row+` form[action$="/clear"] button`, `!document.querySelector("`+row+`.scenario-active")`, "the scenario to show as cleared")
			for deadline := time.Now().Add(20 * time.Second); oncall.status() != "pass"; time.Sleep(250 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s did not pass 20s after the scenario was cleared", sc.Check)
				}
				oncall.open(checkPath)
			}
			resolved := `[...document.querySelectorAll("#signal-feed .slack-msg")].find(m => m.querySelector(".slack-header")?.textContent === "✅ Resolved: ` + sc.Check + `")`
			trainee.waitFor(`!!`+resolved, 20*time.Second, "the Slack resolve message on the signals panel")
			msg := tabEval[map[string]string](trainee, `(() => { const m = `+resolved+`; return {
				text: m.querySelector(".slack-text").innerHTML,
				status: m.querySelector(".slack-field").innerText,
				button: m.querySelector(".slack-button")?.getAttribute("href") ?? ""}; })()`)
			if want := "<strong>" + sc.Check + "</strong> passes again"; !strings.HasPrefix(msg["text"], want) {
				t.Errorf("the resolve message reads %q, want it to start with %q (mrkdwn bold rendered)", msg["text"], want)
			}
			if got := strings.Join(strings.Fields(msg["status"]), " "); got != "Status pass" {
				t.Errorf("the resolve message's first field reads %q", msg["status"])
			}
			if msg["button"] != base+checkPath {
				t.Errorf("the resolve message's button links to %q, want %s", msg["button"], base+checkPath)
			}
			opened := `[...document.querySelectorAll("#signal-feed .slack-header")].some(h => h.textContent === "🔴 Failing: ` + sc.Check + `")`
			if !tabEval[bool](trainee, opened) {
				t.Errorf("the signals panel lacks the Slack message that opened the incident")
			}
			trainer.waitUntil(`!!document.querySelector('`+exercise+` li.step-done[data-step="`+demo.StepRecover+`"]')`, "the exercise to record the recovery")
		})
	}
	trainee.t, trainer.t = t, t

	// The sandbox's pages pass the same audit as the others
	// (internal/web TestPagesInBrowser): axe-core, no sideways scrolling.
	for _, size := range [][2]int64{{browsertest.DesktopWidth, browsertest.DesktopHeight}, {browsertest.PhoneWidth, browsertest.PhoneHeight}} {
		for _, scheme := range []string{"light", "dark"} {
			audit := browserTab{t: t, ctx: b.Tab(t), base: base} // a tab's deadline bounds all done in it
			audit.open("/demo")
			audit.logIn("trainee", "trainee-demo")
			browsertest.SetViewport(t, audit.ctx, size[0], size[1])
			browsertest.SetColorScheme(t, audit.ctx, scheme)
			for _, path := range []string{"/demo", "/demo/signals", "/checks/policy-events-dlq"} {
				audit.open(path)
				for _, v := range browsertest.Axe(t, audit.ctx) {
					t.Errorf("%s at %dpx, %s: axe: %s", path, size[0], scheme, v)
				}
				if w := browsertest.PageWidth(t, audit.ctx); w > int(size[0]) {
					t.Errorf("%s is %dpx wide at a %dpx viewport: %q", path, w, size[0], browsertest.WiderThan(t, audit.ctx, int(size[0])))
				}
			}
		}
	}

	if got := tabEval[string](trainee, `String(window.vigilBrowserTest)`); got != "same page" {
		t.Errorf("the signals panel was reloaded (window.vigilBrowserTest = %q); it should update in place", got)
	}
	b.Screenshot(t, trainee.ctx, "signals")
	if n := tabEval[int](trainee, `document.querySelectorAll("#signal-feed .sentry-events tbody tr").length`); n < len(demo.Catalog()) {
		t.Errorf("the signals panel shows %d Sentry events, want one incident event per scenario at least", n)
	}
	if lines := trainee.text("#signal-feed pre.statsd"); !strings.Contains(lines, "vigil.check.run:") {
		t.Errorf("the signals panel shows no vigil.check.run line: %q", lines)
	}

	// Reset, for the next session.
	trainer.pressUntil(`form[action="/demo/reset"] button`, `!document.querySelector("article.exercise")`, "the exercises to be gone after Reset")
	trainee.waitFor(`!document.querySelector("#signal-feed .slack-msg")`, 10*time.Second, "the signals panel to empty after Reset")
}

// startDemoBinary starts the real `vigil demo --listen 127.0.0.1:0` and
// returns the dashboard URL its banner prints, and its logs. It is stopped
// with SIGTERM (so it removes its folder) when t ends.
func startDemoBinary(t *testing.T) (string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(vigilBin, "demo", "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { logs.WriteString(string(p)); return len(p), nil })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("vigil demo exited with %v after SIGTERM", err)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("vigil demo did not stop within 20s of SIGTERM")
		}
	})
	url := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`^\s+dashboard\s+(http://\S+)$`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				url <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-url:
		return u, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("vigil demo printed no dashboard URL within 30s:\n%s", logs)
	}
	return "", nil
}

// pressUntil clicks the button sel until cond (JavaScript) holds, for
// up to 10s: an htmx poll may swap the button out just as it is clicked,
// and the sandbox's actions may be repeated.
func (p browserTab) pressUntil(sel, cond, what string) {
	p.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !tabEval[bool](p, cond); {
		if time.Now().After(deadline) {
			p.t.Fatalf("waited 10s for %s after pressing %s", what, sel)
		}
		ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
		_, _ = chromedp.Run(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)) // swapped out: try again
		cancel()
		for retry := time.Now().Add(3 * time.Second); time.Now().Before(retry) && !tabEval[bool](p, cond); {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// waitFor waits up to d for the JavaScript condition cond to hold.
func (p browserTab) waitFor(cond string, d time.Duration, what string) {
	p.t.Helper()
	for deadline := time.Now().Add(d); !tabEval[bool](p, cond); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatalf("waited %s for %s", d, what)
		}
	}
}
