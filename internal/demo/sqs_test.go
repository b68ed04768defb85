package demo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/internal/datasource"
)

// startFake starts the SQS fake for one test, with a source queue feeding
// a DLQ created through the real client.
func startFake(t *testing.T) (*FakeSQS, *sqs.Client) {
	t.Helper()
	f, err := StartFakeSQS(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	c := f.Client()
	ctx := t.Context()
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders-dlq"), Attributes: map[string]string{"MessageRetentionPeriod": "345600"}})
	if err != nil {
		t.Fatalf("create dlq: %v", err)
	}
	arn := f.ARN("orders-dlq")
	if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{
		"MessageRetentionPeriod": "345600",
		"RedrivePolicy":          fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"3"}`, arn),
	}}); err != nil {
		t.Fatalf("create source: %v", err)
	}
	if !strings.HasPrefix(*dlq.QueueUrl, "http://127.0.0.1:") {
		t.Fatalf("queue URL %s is not on loopback", *dlq.QueueUrl)
	}
	return f, c
}

func send(t *testing.T, c *sqs.Client, queueURL string, n int) {
	t.Helper()
	for i := range n {
		if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(fmt.Sprintf("event %d", i))}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

func queueURL(t *testing.T, c *sqs.Client, name string) string {
	t.Helper()
	out, err := c.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("get queue url %s: %v", name, err)
	}
	return *out.QueueUrl
}

func buildDLQCheck(t *testing.T, c *sqs.Client, spec *sqsdlq.Spec, prev *checks.Result) checks.Check {
	t.Helper()
	if ps := spec.Validate(checks.SpecEnv{}); len(ps) > 0 {
		t.Fatalf("spec: %v", ps)
	}
	deps := checks.Deps{CheckID: "orders-dlq", Timeout: 5 * time.Second, Queues: datasource.NewSQS("queues", c)}
	if prev != nil {
		deps.Previous = func(context.Context) (checks.Result, bool, error) { return *prev, true, nil }
	}
	chk, err := spec.Build(deps)
	if err != nil {
		t.Fatal(err)
	}
	return chk
}

// TestFakeSQSServesTheSQSDLQCheck runs the real sqs_dlq check and the real
// redrive through the real aws-sdk-go-v2 client against the fake.
func TestFakeSQSServesTheSQSDLQCheck(t *testing.T) {
	inflow := 5
	tests := []struct {
		name string
		spec sqsdlq.Spec
	}{
		{name: "queue by name", spec: sqsdlq.Spec{Queues: []string{"orders-dlq"}, InflowAbove: &inflow}},
		{name: "discovered from RedrivePolicy", spec: sqsdlq.Spec{Discover: &sqsdlq.Discover{}, InflowAbove: &inflow}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := startFake(t)
			chk := buildDLQCheck(t, c, &tt.spec, nil)

			res, err := chk.Run(t.Context())
			if err != nil || res.Violations != 0 {
				t.Fatalf("empty DLQ: %+v, %v", res, err)
			}

			send(t, c, queueURL(t, c, "orders"), 12)
			if n := f.FailAll("orders"); n != 12 {
				t.Fatalf("FailAll moved %d, want 12", n)
			}
			chk = buildDLQCheck(t, c, &tt.spec, &res)
			res, err = chk.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != checks.Fail || res.Violations != 1 || res.Sample[0].Key != "orders-dlq" {
				t.Fatalf("filled DLQ: %+v", res)
			}
			for _, want := range []string{"depth 12 (visible 12, in flight 0, delayed 0)", "growth +12 since last run over inflow_above 5", "sources: orders"} {
				if !strings.Contains(res.Sample[0].Detail, want) {
					t.Errorf("detail %q lacks %q", res.Sample[0].Detail, want)
				}
			}

			var seen []sqsdlq.Progress
			rd, err := sqsdlq.Redrive(t.Context(), c, sqsdlq.RedriveOptions{Queue: "orders-dlq", Rate: 100, PollInterval: 20 * time.Millisecond},
				func(p sqsdlq.Progress) { seen = append(seen, p) })
			if err != nil {
				t.Fatalf("redrive: %v", err)
			}
			if rd.Status != sqsdlq.StatusCompleted || rd.Moved != 12 || rd.ToMove != 12 || strings.Join(rd.Sources, ",") != "orders" || len(seen) == 0 {
				t.Fatalf("redrive result %+v, progress %+v", rd, seen)
			}
			if d, s := f.Depth("orders-dlq"), f.Depth("orders"); d != 0 || s != 12 {
				t.Fatalf("after redrive: dlq %d, source %d; want 0 and 12", d, s)
			}
			tasks := f.MoveTasks()
			if len(tasks) != 1 || tasks[0].Source != "orders-dlq" || tasks[0].Status != "COMPLETED" || tasks[0].Rate != 100 {
				t.Fatalf("move tasks %+v", tasks)
			}
			chk = buildDLQCheck(t, c, &tt.spec, &res)
			if res, err = chk.Run(t.Context()); err != nil || res.Status != checks.Pass {
				t.Fatalf("after redrive: %+v, %v", res, err)
			}
		})
	}
}

// TestFakeSQSErrorsAsAWS checks that the fake's errors reach the client as
// AWS errors with the codes vigil looks for.
func TestFakeSQSErrorsAsAWS(t *testing.T) {
	f, c := startFake(t)
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"missing queue by name", func() error {
			_, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue"},
		{"missing queue by URL", func() error {
			_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(f.Endpoint() + "/000000000000/nope")})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue"},
		{"move from a queue that is no DLQ", func() error {
			_, err := c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(f.ARN("orders"))})
			return err
		}, "InvalidParameterValue"},
		{"cancel an unknown task", func() error {
			_, err := c.CancelMessageMoveTask(ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: aws.String("x")})
			return err
		}, "ResourceNotFoundException"},
		{"an operation the fake lacks", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL(t, c, "orders"))})
			return err
		}, "AWS.SimpleQueueService.UnsupportedOperation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Fatalf("error %v, want API error code %s", err, tt.code)
			}
		})
	}

	// A missing queue named in `queues` is a check error naming the code.
	chk := buildDLQCheck(t, c, &sqsdlq.Spec{Queues: []string{"missing-dlq"}}, nil)
	if _, err := chk.Run(ctx); err == nil || !strings.Contains(err.Error(), "AWS.SimpleQueueService.NonExistentQueue") {
		t.Fatalf("check on a missing queue: %v", err)
	}
}

// TestFakeSQSListsInPages pages ListQueues and ListDeadLetterSourceQueues.
func TestFakeSQSListsInPages(t *testing.T) {
	f, c := startFake(t)
	for i := range 5 {
		f.CreateQueue(fmt.Sprintf("more-%d", i), map[string]string{"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q}`, f.ARN("orders-dlq"))})
	}
	var all []string
	in := &sqs.ListQueuesInput{QueueNamePrefix: aws.String("more-"), MaxResults: aws.Int32(2)}
	pages := 0
	for {
		out, err := c.ListQueues(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.QueueUrls...)
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if len(all) != 5 || pages != 3 || !strings.HasSuffix(all[0], "/more-0") {
		t.Fatalf("ListQueues: %d pages, %v", pages, all)
	}
	out, err := c.ListDeadLetterSourceQueues(t.Context(), &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(queueURL(t, c, "orders-dlq"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.QueueUrls) != 6 {
		t.Fatalf("sources of orders-dlq: %v, want 6", out.QueueUrls)
	}
}

// TestLoopbackDialRefusesOtherHosts: the sandbox's clients cannot reach
// anything beyond loopback, and refuse before sending a packet.
func TestLoopbackDialRefusesOtherHosts(t *testing.T) {
	tests := []struct {
		name, addr string
		ok         bool
	}{
		{"IPv4 loopback", "127.0.0.1:1", true},
		{"IPv6 loopback", "[::1]:1", true},
		{"localhost", "localhost:1", true},
		{"public address", "8.8.8.8:53", false},
		{"private address", "10.0.0.1:80", false},
		{"host name", "sqs.us-east-1.amazonaws.com:443", false},
		{"metadata endpoint", "169.254.169.254:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := LoopbackDial(t.Context(), "tcp", tt.addr)
			if conn != nil {
				conn.Close()
			}
			if refused := errors.Is(err, ErrNotLoopback); refused == tt.ok {
				t.Fatalf("dial %s: %v", tt.addr, err)
			}
		})
	}
}
