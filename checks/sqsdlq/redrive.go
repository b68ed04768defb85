package sqsdlq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// ErrNotDLQ is returned by Redrive for a queue that no source queue's
// RedrivePolicy names: there is nowhere to move its messages back to.
var ErrNotDLQ = errors.New("not the dead-letter queue of any source queue")

// MaxRedriveRate is the highest MaxNumberOfMessagesPerSecond SQS accepts.
const MaxRedriveRate = 500

// Redrive statuses besides SQS's own (RUNNING, COMPLETED, CANCELLING,
// CANCELLED, FAILED).
const (
	StatusDryRun    = "DRY_RUN"
	StatusCompleted = "COMPLETED"
	StatusCancelled = "CANCELLED"
	StatusFailed    = "FAILED"
)

// RedriveOptions says which DLQ to redrive and how.
type RedriveOptions struct {
	// Queue is the DLQ's name or URL.
	Queue string
	// Rate caps the messages moved per second (1..500); 0 leaves it to SQS.
	Rate int
	// DryRun reports what would move without moving anything.
	DryRun bool
	// PollInterval is how often progress is read; default 1s.
	PollInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Progress is one reading of a running redrive.
type Progress struct {
	Queue  string
	Status string // RUNNING, CANCELLING, COMPLETED, ...
	Moved  int64
	ToMove int64
}

// RedriveResult is what a redrive did, with what an audit record needs.
type RedriveResult struct {
	Queue    string   // the DLQ's name
	QueueURL string   // the DLQ's URL
	QueueARN string   // the DLQ's ARN (the move task's SourceArn)
	Sources  []string // the source queues (by name) its messages go back to
	DryRun   bool
	// Rate is the rate the task ran at (as SQS reports it; the requested
	// rate until SQS says otherwise), 0 for SQS's default.
	Rate int
	// ToMove is how many messages the task set out to move; for a dry run,
	// the visible messages that would move.
	ToMove int64
	Moved  int64
	// TaskHandle identifies the SQS message move task (empty for a dry run).
	TaskHandle    string
	Status        string // DRY_RUN, COMPLETED, CANCELLED or FAILED
	FailureReason string
	StartedAt     time.Time
	EndedAt       time.Time
}

// Redrive moves a DLQ's messages back to the source queues they came from
// with an SQS message move task, at most opts.Rate per second, and calls
// progress (when not nil) after each reading until the task ends.
//
// It refuses, with ErrNotDLQ, a queue that no source queue feeds. When ctx
// is cancelled it cancels the task (CancelMessageMoveTask) and returns the
// result so far with ctx's error. A task that SQS reports FAILED returns
// the result and an error quoting SQS's reason. AWS errors name the queue
// and the AWS error code. The caller records who redrove what from the
// result, whatever the error.
func Redrive(ctx context.Context, client *sqs.Client, opts RedriveOptions, progress func(Progress)) (RedriveResult, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	poll := opts.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	res := RedriveResult{DryRun: opts.DryRun, Rate: opts.Rate, StartedAt: now()}
	fail := func(err error) (RedriveResult, error) {
		res.EndedAt = now()
		return res, fmt.Errorf("redrive %s: %w", opts.Queue, err)
	}
	if opts.Rate < 0 || opts.Rate > MaxRedriveRate {
		return fail(fmt.Errorf("rate %d is outside 1..%d messages per second", opts.Rate, MaxRedriveRate))
	}
	name, queueURL, err := parseQueue(opts.Queue)
	if err != nil {
		return fail(err)
	}
	if queueURL == "" {
		if queueURL, err = resolveURL(ctx, client, name, ""); err != nil {
			return fail(err)
		}
	}
	res.Queue, res.QueueURL = name, queueURL

	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &queueURL,
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameQueueArn,
			types.QueueAttributeNameApproximateNumberOfMessages,
		},
	})
	if err != nil {
		return fail(awsError("queue "+name+": get attributes", err))
	}
	res.QueueARN = attrs.Attributes[string(types.QueueAttributeNameQueueArn)]
	visible, _ := strconv.ParseInt(attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)], 10, 64)

	sourceURLs, err := listSources(ctx, client, queueURL)
	if err != nil {
		return fail(fmt.Errorf("queue %s: %w", name, err))
	}
	if len(sourceURLs) == 0 {
		return fail(fmt.Errorf("queue %s: %w", name, ErrNotDLQ))
	}
	for _, u := range sourceURLs {
		res.Sources = append(res.Sources, nameOf(u))
	}
	sort.Strings(res.Sources)

	if opts.DryRun {
		res.Status, res.ToMove, res.EndedAt = StatusDryRun, visible, now()
		return res, nil
	}

	in := &sqs.StartMessageMoveTaskInput{SourceArn: &res.QueueARN}
	if opts.Rate > 0 {
		in.MaxNumberOfMessagesPerSecond = ptr(int32(opts.Rate))
	}
	started, err := client.StartMessageMoveTask(ctx, in)
	if err != nil {
		return fail(awsError("queue "+name+": start message move task", err))
	}
	res.StartedAt = now()
	res.TaskHandle = *started.TaskHandle
	res.ToMove = visible

	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return cancelTask(client, res, now, ctx.Err())
		case <-ticker.C:
		}
		task, err := findTask(ctx, client, res.QueueARN, res.TaskHandle)
		if err != nil {
			if ctx.Err() != nil {
				return cancelTask(client, res, now, ctx.Err())
			}
			return fail(fmt.Errorf("queue %s: %w", name, err))
		}
		res.Moved = task.ApproximateNumberOfMessagesMoved
		if task.ApproximateNumberOfMessagesToMove != nil {
			res.ToMove = *task.ApproximateNumberOfMessagesToMove
		}
		if task.MaxNumberOfMessagesPerSecond != nil {
			res.Rate = int(*task.MaxNumberOfMessagesPerSecond)
		}
		status := deref(task.Status)
		if progress != nil {
			progress(Progress{Queue: name, Status: status, Moved: res.Moved, ToMove: res.ToMove})
		}
		switch status {
		case StatusCompleted, StatusCancelled:
			res.Status, res.EndedAt = status, now()
			return res, nil
		case StatusFailed:
			res.Status, res.FailureReason = status, deref(task.FailureReason)
			return fail(fmt.Errorf("queue %s: message move task failed: %s", name, res.FailureReason))
		}
	}
}

// findTask returns the state of the move task with the given handle. SQS
// shows a task's handle only while it runs; once none of the listed tasks
// carries it, the task has ended and is the most recent one (SQS runs one
// task per source queue at a time and lists the newest first).
func findTask(ctx context.Context, client *sqs.Client, sourceARN, handle string) (types.ListMessageMoveTasksResultEntry, error) {
	out, err := client.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: &sourceARN, MaxResults: ptr(int32(10))})
	if err != nil {
		return types.ListMessageMoveTasksResultEntry{}, awsError("list message move tasks", err)
	}
	for _, t := range out.Results {
		if deref(t.TaskHandle) == handle {
			return t, nil
		}
	}
	for _, t := range out.Results {
		if deref(t.Status) != "RUNNING" {
			return t, nil
		}
	}
	return types.ListMessageMoveTasksResultEntry{}, fmt.Errorf("message move task %s is not listed", handle)
}

// cancelTask cancels a running task after ctx ended, with a short context
// of its own, and returns the result with cause.
func cancelTask(client *sqs.Client, res RedriveResult, now func() time.Time, cause error) (RedriveResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res.Status = StatusCancelled
	out, err := client.CancelMessageMoveTask(ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: &res.TaskHandle})
	res.EndedAt = now()
	if err != nil {
		return res, fmt.Errorf("redrive %s: cancelled (%w), but cancelling the move task failed: %w", res.Queue, cause, awsError("cancel message move task", err))
	}
	res.Moved = out.ApproximateNumberOfMessagesMoved
	return res, fmt.Errorf("redrive %s: cancelled: %w", res.Queue, cause)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
