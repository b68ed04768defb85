package sqsdlq_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/internal/sqstest"
)

// progressLog records the progress a redrive reports.
type progressLog struct {
	mu    sync.Mutex
	moved []int64
}

func (l *progressLog) add(p sqsdlq.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.moved = append(l.moved, p.Moved)
}

func TestRedriveMovesMessagesBackAtTheRequestedRate(t *testing.T) {
	srv := sqstest.Start(t)
	p := srv.CreatePair(t, "orders", "orders-dlq", 1, nil, nil)
	srv.FailMessages(t, p, 6)

	var log progressLog
	res, err := sqsdlq.Redrive(context.Background(), srv.Client,
		sqsdlq.RedriveOptions{Queue: "orders-dlq", Rate: 2, PollInterval: 100 * time.Millisecond}, log.add)
	if err != nil {
		t.Fatalf("redrive: %v", err)
	}
	if res.Status != sqsdlq.StatusCompleted || res.Moved != 6 || res.ToMove != 6 || res.Rate != 2 ||
		res.Queue != "orders-dlq" || res.QueueURL != p.DLQURL || res.QueueARN != p.DLQARN ||
		!reflect.DeepEqual(res.Sources, []string{"orders"}) || res.TaskHandle == "" || res.DryRun {
		t.Fatalf("result = %+v", res)
	}
	if !res.EndedAt.After(res.StartedAt) {
		t.Errorf("ended %v is not after started %v", res.EndedAt, res.StartedAt)
	}
	if dlq, src := srv.Depth(t, p.DLQURL), srv.Depth(t, p.SourceURL); dlq != 0 || src != 6 {
		t.Fatalf("after redrive DLQ has %d, source %d; want 0 and 6", dlq, src)
	}
	// At 2 a second the six messages move in steps: progress shows a
	// partial count before the end, and never goes back.
	partial := false
	for i, m := range log.moved {
		if i > 0 && m < log.moved[i-1] {
			t.Fatalf("progress went back: %v", log.moved)
		}
		partial = partial || (m > 0 && m < 6)
	}
	if !partial || log.moved[len(log.moved)-1] != 6 {
		t.Fatalf("progress = %v, want partial counts ending at 6", log.moved)
	}
	// SQS ran the task at the requested rate.
	tasks, err := srv.Client.ListMessageMoveTasks(context.Background(), &sqs.ListMessageMoveTasksInput{SourceArn: &p.DLQARN})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks.Results) != 1 || tasks.Results[0].MaxNumberOfMessagesPerSecond == nil || *tasks.Results[0].MaxNumberOfMessagesPerSecond != 2 {
		t.Fatalf("move tasks = %+v, want one at 2 messages per second", tasks.Results)
	}
}

func TestRedriveDryRunMovesNothing(t *testing.T) {
	srv := sqstest.Start(t)
	p := srv.CreatePair(t, "pay", "pay-dlq", 1, nil, nil)
	srv.CreateQueue(t, "pay-retry", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + p.DLQARN + `","maxReceiveCount":"5"}`})
	srv.FailMessages(t, p, 3)

	res, err := sqsdlq.Redrive(context.Background(), srv.Client, sqsdlq.RedriveOptions{Queue: p.DLQURL, Rate: 10, DryRun: true}, nil)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if res.Status != sqsdlq.StatusDryRun || !res.DryRun || res.ToMove != 3 || res.Moved != 0 || res.TaskHandle != "" ||
		!reflect.DeepEqual(res.Sources, []string{"pay", "pay-retry"}) {
		t.Fatalf("dry run result = %+v", res)
	}
	if got := srv.Depth(t, p.DLQURL); got != 3 {
		t.Fatalf("DLQ depth after dry run = %d, want 3", got)
	}
	tasks, err := srv.Client.ListMessageMoveTasks(context.Background(), &sqs.ListMessageMoveTasksInput{SourceArn: &p.DLQARN})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks.Results) != 0 {
		t.Fatalf("dry run started move tasks: %+v", tasks.Results)
	}
}

func TestRedriveCancelledByContext(t *testing.T) {
	srv := sqstest.Start(t)
	p := srv.CreatePair(t, "slow", "slow-dlq", 1, nil, nil)
	srv.FailMessages(t, p, 5)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := sqsdlq.Redrive(ctx, srv.Client, sqsdlq.RedriveOptions{Queue: "slow-dlq", Rate: 1, PollInterval: 100 * time.Millisecond},
		func(pr sqsdlq.Progress) {
			if pr.Moved >= 1 {
				cancel()
			}
		})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if res.Status != sqsdlq.StatusCancelled || res.Moved < 1 || res.Moved >= 5 || res.TaskHandle == "" {
		t.Fatalf("result = %+v, want cancelled after moving 1 to 4", res)
	}
	// The task stops: SQS lists it as cancelling or cancelled, and the
	// messages it did not move stay in the DLQ.
	tasks, err := srv.Client.ListMessageMoveTasks(context.Background(), &sqs.ListMessageMoveTasksInput{SourceArn: &p.DLQARN})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks.Results) != 1 || !strings.HasPrefix(*tasks.Results[0].Status, "CANCEL") {
		t.Fatalf("move tasks = %+v, want one cancelled", tasks.Results)
	}
	if got := srv.Depth(t, p.DLQURL); got < 1 {
		t.Fatalf("DLQ depth after cancel = %d, want the unmoved messages", got)
	}
}

func TestRedriveRefuses(t *testing.T) {
	srv := sqstest.Start(t)
	srv.CreateQueue(t, "lonely", nil)
	tests := []struct {
		name  string
		opts  sqsdlq.RedriveOptions
		check func(t *testing.T, err error)
	}{
		{name: "a queue no source feeds", opts: sqsdlq.RedriveOptions{Queue: "lonely"}, check: func(t *testing.T, err error) {
			if !errors.Is(err, sqsdlq.ErrNotDLQ) || !strings.Contains(err.Error(), "lonely") {
				t.Fatalf("error = %v, want ErrNotDLQ naming lonely", err)
			}
		}},
		{name: "a missing queue", opts: sqsdlq.RedriveOptions{Queue: "absent-dlq"}, check: func(t *testing.T, err error) {
			var notFound *types.QueueDoesNotExist
			if !errors.As(err, &notFound) || !strings.Contains(err.Error(), "queue absent-dlq: get queue url: AWS.SimpleQueueService.NonExistentQueue") {
				t.Fatalf("error = %v, want QueueDoesNotExist naming absent-dlq and the code", err)
			}
		}},
		{name: "a rate SQS does not accept", opts: sqsdlq.RedriveOptions{Queue: "lonely", Rate: 501}, check: func(t *testing.T, err error) {
			if err == nil || err.Error() != "redrive lonely: rate 501 is outside 1..500 messages per second" {
				t.Fatalf("error = %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sqsdlq.Redrive(context.Background(), srv.Client, tt.opts, nil)
			tt.check(t, err)
		})
	}
}
