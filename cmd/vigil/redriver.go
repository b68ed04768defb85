package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/scriptlog"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/web"
)

// redriver redrives the dead-letter queues of the configured sqs
// datasources and records every redrive in the script log. It is the one
// code path of `vigil redrive` and of the dashboard (web.Redriver).
type redriver struct {
	cfg  *config.Config
	src  *sources
	st   *store.Store
	now  func() time.Time
	poll time.Duration // how often progress is read; sqsdlq's default when 0
}

var _ web.Redriver = (*redriver)(nil)

func newRedriver(cfg *config.Config, src *sources, st *store.Store) *redriver {
	return &redriver{cfg: cfg, src: src, st: st, now: time.Now}
}

// client opens the named sqs datasource ("" for the config's only one).
func (r *redriver) client(ctx context.Context, name string) (*datasource.SQS, error) {
	name, err := sqsDatasource(r.cfg, name)
	if err != nil {
		return nil, err
	}
	return r.src.sqs(ctx, name)
}

// Preview implements web.Redriver: a dry run, not recorded.
func (r *redriver) Preview(ctx context.Context, datasource, queue string) (sqsdlq.RedriveResult, error) {
	c, err := r.client(ctx, datasource)
	if err != nil {
		return sqsdlq.RedriveResult{}, fmt.Errorf("redrive %s: %w", queue, err)
	}
	return sqsdlq.Redrive(ctx, c.Client(), sqsdlq.RedriveOptions{Queue: queue, DryRun: true, Now: r.now}, nil)
}

// Redrive implements web.Redriver. The script-log record (purpose
// "redrive <queue>", target the queue, the equivalent `vigil redrive`
// command line, the progress lines and the outcome as output) is started
// before anything moves: when it cannot be written nothing moves. Its
// status is success, failed (exit code 1), or interrupted when ctx ended
// the redrive (its move task is then cancelled).
func (r *redriver) Redrive(ctx context.Context, req web.RedriveRequest, progress func(sqsdlq.Progress)) (sqsdlq.RedriveResult, error) {
	log, err := scriptlog.NewSQL(r.st.DB(), r.st.Driver(), r.cfg.Scriptlog.Key)
	if err != nil {
		return sqsdlq.RedriveResult{}, fmt.Errorf("redrive %s: %w", req.Queue, err)
	}
	args := []string{"vigil", "redrive", "--queue", req.Queue, "--rate", strconv.Itoa(req.Rate)}
	if req.DryRun {
		args = append(args, "--dry-run")
	}
	if req.Datasource != "" {
		args = append(args, "--datasource", req.Datasource)
	}
	purpose := "redrive " + req.Queue
	if req.DryRun {
		purpose += " (dry run)"
	}
	red := scriptlog.NewRedactor(nil, r.cfg.SecretValues())
	rec, err := log.Start(ctx, scriptlog.Record{
		Script: scriptlog.CommandLine(red.Args(args)), Actor: req.Actor, Purpose: purpose, Target: req.Queue,
		Inputs: scriptlog.Inputs{Args: red.Args(args[2:]), Env: []scriptlog.EnvVar{}}, StartedAt: r.now(),
	})
	if err != nil {
		return sqsdlq.RedriveResult{}, fmt.Errorf("redrive %s: not started, the script log cannot record it: %w", req.Queue, err)
	}

	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	res, err := r.move(ctx, req, func(p sqsdlq.Progress) {
		mu.Lock()
		fmt.Fprintf(&out, "%s %s: moved %d of %d\n", r.now().UTC().Format(time.TimeOnly), p.Status, p.Moved, p.ToMove)
		mu.Unlock()
		if progress != nil {
			progress(p)
		}
	})
	mu.Lock()
	out.WriteString(redriveSummary(res, req.Rate, err) + "\n")
	output := red.Bytes(out.Bytes())
	mu.Unlock()

	rec.EndedAt = r.now()
	rec.Duration = rec.EndedAt.Sub(rec.StartedAt)
	rec.Output, rec.OutputBytes = output, int64(len(output))
	switch {
	case err == nil:
		rec.Status, rec.ExitCode = scriptlog.Success, 0
	case ctx.Err() != nil:
		rec.Status, rec.ExitCode = scriptlog.Interrupted, 1
	default:
		rec.Status, rec.ExitCode = scriptlog.Failed, 1
	}
	if _, ferr := log.Finish(context.WithoutCancel(ctx), rec); ferr != nil {
		err = errors.Join(err, fmt.Errorf("redrive %s: record its end in the script log: %w", req.Queue, ferr))
	}
	return res, err
}

// move runs the redrive itself.
func (r *redriver) move(ctx context.Context, req web.RedriveRequest, progress func(sqsdlq.Progress)) (sqsdlq.RedriveResult, error) {
	c, err := r.client(ctx, req.Datasource)
	if err != nil {
		return sqsdlq.RedriveResult{Queue: req.Queue, DryRun: req.DryRun, Rate: req.Rate}, fmt.Errorf("redrive %s: %w", req.Queue, err)
	}
	return sqsdlq.Redrive(ctx, c.Client(), sqsdlq.RedriveOptions{
		Queue: req.Queue, Rate: req.Rate, DryRun: req.DryRun, PollInterval: r.poll, Now: r.now,
	}, progress)
}

// redriveSummary is the one line that says what a redrive did.
func redriveSummary(res sqsdlq.RedriveResult, rate int, err error) string {
	s := fmt.Sprintf("rate %d/s, sources %s, moved %d of %d, status %s", rate, strings.Join(res.Sources, ", "), res.Moved, res.ToMove, res.Status)
	if res.DryRun {
		s = fmt.Sprintf("dry run: would move %d messages to %s at %d/s", res.ToMove, strings.Join(res.Sources, ", "), rate)
	}
	if err != nil {
		s += "; error: " + err.Error()
	}
	return s
}
