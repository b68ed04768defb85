package sqsdlq_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/sqstest"
)

// history plays the store: it hands the last recorded result to the check.
type history struct {
	last *checks.Result
}

func (h *history) previous(context.Context) (checks.Result, bool, error) {
	if h.last == nil {
		return checks.Result{}, false, nil
	}
	return *h.last, true, nil
}

// run runs the check once and records its result as the store would.
func (h *history) run(t *testing.T, c checks.Check) checks.Result {
	t.Helper()
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	h.last = &res
	return res
}

func build(t *testing.T, srv *sqstest.Server, spec sqsdlq.Spec, h *history, optFns ...func(*sqs.Options)) checks.Check {
	t.Helper()
	if ps := spec.Validate(checks.SpecEnv{}); len(ps) > 0 {
		t.Fatalf("spec problems: %v", ps)
	}
	ds, err := datasource.OpenSQS(context.Background(), "queues", sqstest.Region, srv.Endpoint, nil, optFns...)
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		h = &history{}
	}
	c, err := spec.Build(checks.Deps{CheckID: "dlq", Timeout: 30 * time.Second, Queues: ds, Previous: h.previous})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func intp(n int) *int { return &n }

func TestFilledDLQFailsWithDepthSourcesAndGrowth(t *testing.T) {
	srv := sqstest.Start(t)
	p := srv.CreatePair(t, "orders", "orders-dlq", 2, nil, map[string]string{"MessageRetentionPeriod": "1209600"})
	h := &history{}
	c := build(t, srv, sqsdlq.Spec{Queues: []string{"orders-dlq"}, InflowAbove: intp(1)}, h)

	srv.FailMessages(t, p, 3)
	first := h.run(t, c)
	wantFirst := []checks.Violation{{Key: "orders-dlq",
		Detail: "depth 3 (visible 3, in flight 0, delayed 0) over fail_above 0; growth unknown (first run); sources: orders"}}
	if first.Status != checks.Fail || first.Violations != 1 || !reflect.DeepEqual(first.Sample, wantFirst) {
		t.Fatalf("first run = %s %d %+v, want fail 1 %+v", first.Status, first.Violations, first.Sample, wantFirst)
	}
	if got := first.Metrics["depth:orders-dlq"]; got != 3 {
		t.Errorf("first run metric depth:orders-dlq = %v, want 3", got)
	}

	srv.FailMessages(t, p, 2)
	second := h.run(t, c)
	wantSecond := "depth 5 (visible 5, in flight 0, delayed 0) over fail_above 0; growth +2 since last run over inflow_above 1; sources: orders"
	if second.Status != checks.Fail || len(second.Sample) != 1 || second.Sample[0].Detail != wantSecond {
		t.Fatalf("second run = %s %+v, want fail with %q", second.Status, second.Sample, wantSecond)
	}
	if got := srv.Depth(t, p.DLQURL); got != 5 {
		t.Errorf("DLQ depth after the check = %d, want 5 (the check must not receive)", got)
	}
}

func TestThresholds(t *testing.T) {
	srv := sqstest.Start(t)
	p := srv.CreatePair(t, "billing", "billing-dlq", 1, nil, map[string]string{"MessageRetentionPeriod": "1209600"})
	srv.FailMessages(t, p, 3)
	tests := []struct {
		name   string
		spec   sqsdlq.Spec
		prev   int // depth recorded by the previous run; -1 for none
		status checks.Status
		detail string
	}{
		{name: "any message fails by default", spec: sqsdlq.Spec{}, prev: -1, status: checks.Fail,
			detail: "depth 3 (visible 3, in flight 0, delayed 0) over fail_above 0; growth unknown (first run); sources: billing"},
		{name: "between warn and fail warns", spec: sqsdlq.Spec{Thresholds: checks.Thresholds{WarnAbove: intp(2), FailAbove: intp(5)}}, prev: -1, status: checks.Warn,
			detail: "depth 3 (visible 3, in flight 0, delayed 0) over warn_above 2; growth unknown (first run); sources: billing"},
		{name: "at the fail threshold passes", spec: sqsdlq.Spec{Thresholds: checks.Thresholds{FailAbove: intp(3)}}, prev: -1, status: checks.Pass},
		{name: "growth over inflow_above fails an old queue", spec: sqsdlq.Spec{InflowAbove: intp(0), Thresholds: checks.Thresholds{WarnAbove: intp(0), FailAbove: intp(100)}}, prev: 1, status: checks.Fail,
			detail: "depth 3 (visible 3, in flight 0, delayed 0) over warn_above 0; growth +2 since last run over inflow_above 0; sources: billing"},
		{name: "no growth keeps a warning", spec: sqsdlq.Spec{InflowAbove: intp(0), Thresholds: checks.Thresholds{WarnAbove: intp(0), FailAbove: intp(100)}}, prev: 3, status: checks.Warn,
			detail: "depth 3 (visible 3, in flight 0, delayed 0) over warn_above 0; growth +0 since last run; sources: billing"},
		{name: "shrinking is shown", spec: sqsdlq.Spec{InflowAbove: intp(0)}, prev: 7, status: checks.Fail,
			detail: "depth 3 (visible 3, in flight 0, delayed 0) over fail_above 0; growth -4 since last run; sources: billing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &history{}
			if tt.prev >= 0 {
				h.last = &checks.Result{Status: checks.Fail, Metrics: map[string]float64{"depth:billing-dlq": float64(tt.prev)}}
			}
			tt.spec.Queues = []string{p.DLQURL} // by URL
			res := h.run(t, build(t, srv, tt.spec, h))
			if res.Status != tt.status {
				t.Fatalf("status = %s, want %s (sample %+v)", res.Status, tt.status, res.Sample)
			}
			var want []checks.Violation
			if tt.detail != "" {
				want = []checks.Violation{{Key: "billing-dlq", Detail: tt.detail}}
			}
			if len(res.Sample) != len(want) || (len(want) > 0 && res.Sample[0] != want[0]) {
				t.Fatalf("sample = %+v, want %+v", res.Sample, want)
			}
		})
	}
}

func TestRetentionWarning(t *testing.T) {
	srv := sqstest.Start(t)
	tests := []struct {
		name           string
		source, dlq    string // MessageRetentionPeriod
		wantWarningFor string
	}{
		{name: "shorter DLQ retention warns", source: "345600", dlq: "86400",
			wantWarningFor: "; WARNING: retention 1d is not longer than source short-src's (4d): messages can expire before a redrive"},
		{name: "equal retention warns", source: "345600", dlq: "345600",
			wantWarningFor: "; WARNING: retention 4d is not longer than source equal-src's (4d): messages can expire before a redrive"},
		{name: "longer DLQ retention is fine", source: "345600", dlq: "1209600"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []string{"short-src", "equal-src", "long-src"}[i]
			p := srv.CreatePair(t, src, src+"-dlq", 1,
				map[string]string{"MessageRetentionPeriod": tt.source}, map[string]string{"MessageRetentionPeriod": tt.dlq})
			srv.FailMessages(t, p, 1)
			res := (&history{}).run(t, build(t, srv, sqsdlq.Spec{Queues: []string{p.DLQName}}, nil))
			want := "depth 1 (visible 1, in flight 0, delayed 0) over fail_above 0; growth unknown (first run); sources: " + src + tt.wantWarningFor
			if len(res.Sample) != 1 || res.Sample[0].Detail != want {
				t.Fatalf("sample = %+v, want detail %q", res.Sample, want)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	srv := sqstest.Start(t)
	long := map[string]string{"MessageRetentionPeriod": "1209600"}
	a := srv.CreatePair(t, "app-a", "app-a-dlq", 1, nil, long)
	b := srv.CreatePair(t, "app-b", "app-b-dlq", 1, nil, long)
	shared := srv.CreatePair(t, "app-c", "shared-errors", 1, nil, long) // named by app-c's RedrivePolicy only
	other := srv.CreatePair(t, "other", "other-dlq", 1, nil, long)      // outside the prefix
	srv.CreateQueue(t, "app-idle-dlq", long)                            // matches, empty, no source
	srv.CreateQueue(t, "app-plain", nil)                                // matches neither
	for _, p := range []sqstest.Pair{a, b, shared, other} {
		srv.FailMessages(t, p, 1)
	}
	// app-d also feeds app-a-dlq.
	srv.CreateQueue(t, "app-d", map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + a.DLQARN + `","maxReceiveCount":"3"}`})

	calls := sqstest.NewCalls()
	h := &history{}
	c := build(t, srv, sqsdlq.Spec{Discover: &sqsdlq.Discover{Prefix: "app-", Suffix: "-dlq"}}, h,
		func(o *sqs.Options) { o.HTTPClient = calls })
	res := h.run(t, c)

	line := "depth 1 (visible 1, in flight 0, delayed 0) over fail_above 0; growth unknown (first run); sources: "
	want := []checks.Violation{
		{Key: "app-a-dlq", Detail: line + "app-a, app-d"},
		{Key: "app-b-dlq", Detail: line + "app-b"},
		{Key: "shared-errors", Detail: line + "app-c"},
	}
	if res.Status != checks.Fail || !reflect.DeepEqual(res.Sample, want) {
		t.Fatalf("result = %s %+v, want fail %+v", res.Status, res.Sample, want)
	}
	// The measure the dashboard charts is the sum of the watched queues'
	// ApproximateNumberOfMessages.
	wantMetrics := map[string]float64{"depth:app-a-dlq": 1, "depth:app-b-dlq": 1, "depth:shared-errors": 1, "depth:app-idle-dlq": 0, "measure": 3}
	if !reflect.DeepEqual(res.Metrics, wantMetrics) {
		t.Errorf("metrics = %v, want %v", res.Metrics, wantMetrics)
	}
	if first := calls.Take(); first["ListQueues"] != 1 || first["ReceiveMessage"] != 0 {
		t.Errorf("first run calls = %v, want one ListQueues and no ReceiveMessage", first)
	}

	// The next run reuses the discovered queues: one call per queue.
	res = h.run(t, c)
	if got, want := calls.Take(), map[string]int{"GetQueueAttributes": 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("second run calls = %v, want %v", got, want)
	}
	if !strings.Contains(res.Sample[0].Detail, "growth +0 since last run") {
		t.Errorf("second run detail = %q, want growth +0", res.Sample[0].Detail)
	}
}

func TestDiscoveryWithoutPatternWatchesRedriveTargetsOnly(t *testing.T) {
	srv := sqstest.Start(t)
	srv.CreatePair(t, "jobs", "jobs-dead", 1, nil, nil)
	srv.CreatePair(t, "mail", "mail-dlq", 1, nil, nil)
	srv.CreateQueue(t, "idle-dlq", nil)
	res := (&history{}).run(t, build(t, srv, sqsdlq.Spec{Discover: &sqsdlq.Discover{}}, nil))
	if want := map[string]float64{"depth:jobs-dead": 0, "depth:mail-dlq": 0, "measure": 0}; !reflect.DeepEqual(res.Metrics, want) {
		t.Fatalf("watched %v, want %v", res.Metrics, want)
	}
	if res.Status != checks.Pass {
		t.Fatalf("status = %s, want pass for empty DLQs", res.Status)
	}
}

func TestDiscoveredQueueDeletedIsRediscovered(t *testing.T) {
	srv := sqstest.Start(t)
	p := srv.CreatePair(t, "svc", "svc-dlq", 1, nil, map[string]string{"MessageRetentionPeriod": "1209600"})
	gone := srv.CreateQueue(t, "svc-old-dlq", nil)
	srv.FailMessages(t, p, 1)
	h := &history{}
	c := build(t, srv, sqsdlq.Spec{Discover: &sqsdlq.Discover{Prefix: "svc", Suffix: "-dlq"}}, h)
	if res := h.run(t, c); len(res.Metrics) != 3 || res.Metrics["measure"] != 1 {
		t.Fatalf("first run metrics = %v, want 2 queues and their total depth", res.Metrics)
	}
	if _, err := srv.Client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: &gone}); err != nil {
		t.Fatal(err)
	}
	res := h.run(t, c)
	if want := map[string]float64{"depth:svc-dlq": 1, "measure": 1}; !reflect.DeepEqual(res.Metrics, want) {
		t.Fatalf("after delete metrics = %v, want %v", res.Metrics, want)
	}
}

func TestErrorsNameTheQueueAndCode(t *testing.T) {
	srv := sqstest.Start(t)
	existing := srv.CreateQueue(t, "exists-dlq", nil)
	missingURL := strings.Replace(existing, "exists-dlq", "gone-dlq", 1)
	tests := []struct {
		name  string
		queue string
	}{
		{name: "missing queue by name", queue: "nope-dlq"},
		{name: "missing queue by URL", queue: missingURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			last := map[string]float64{"depth:exists-dlq": 4}
			h := &history{last: &checks.Result{Status: checks.Fail, Metrics: last}}
			c := build(t, srv, sqsdlq.Spec{Queues: []string{"exists-dlq", tt.queue}}, h)
			res, err := c.Run(context.Background())
			if err == nil {
				t.Fatal("run succeeded on a missing queue")
			}
			if !reflect.DeepEqual(res.Metrics, last) {
				t.Errorf("metrics of the failed run = %v, want the previous depths %v", res.Metrics, last)
			}
			var notFound *types.QueueDoesNotExist
			var apiErr smithy.APIError
			if !errors.As(err, &notFound) || !errors.As(err, &apiErr) {
				t.Fatalf("error %v does not unwrap to QueueDoesNotExist", err)
			}
			name := tt.queue[strings.LastIndex(tt.queue, "/")+1:]
			if msg := err.Error(); !strings.Contains(msg, "queue "+name+":") || !strings.Contains(msg, apiErr.ErrorCode()) {
				t.Fatalf("error %q does not name queue %s and code %s", msg, name, apiErr.ErrorCode())
			}
		})
	}

	t.Run("unreachable endpoint", func(t *testing.T) {
		t.Setenv("AWS_MAX_ATTEMPTS", "1")
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + l.Addr().String()
		l.Close()
		ds, err := datasource.OpenSQS(context.Background(), "queues", sqstest.Region, closed, nil)
		if err != nil {
			t.Fatal(err)
		}
		url := closed + "/123456789012/far-dlq"
		c, err := (&sqsdlq.Spec{Queues: []string{url}}).Build(checks.Deps{CheckID: "dlq", Queues: ds})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "queue far-dlq: ") || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("error = %v, want one naming far-dlq and the refused connection", err)
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		spec sqsdlq.Spec
		want []checks.Problem
	}{
		{name: "nothing to watch", spec: sqsdlq.Spec{},
			want: []checks.Problem{{Field: "queues", Msg: "sqs_dlq needs queues, discover, or both"}}},
		{name: "bad names and duplicates", spec: sqsdlq.Spec{Queues: []string{"ok-dlq", "bad name", "ok-dlq", "https://user:pw@sqs.example/1/q"}},
			want: []checks.Problem{
				{Field: "queues[1]", Msg: `queue name "bad name" is not valid (1 to 80 letters, digits, '-' or '_', optional .fifo)`},
				{Field: "queues[2]", Msg: `queue "ok-dlq" is listed twice (also queues[0])`},
				{Field: "queues[3]", Msg: "queue URL must not carry credentials or a query string"},
			}},
		{name: "bad discover and thresholds", spec: sqsdlq.Spec{Discover: &sqsdlq.Discover{Prefix: "a b"}, InflowAbove: intp(-1), Thresholds: checks.Thresholds{WarnAbove: intp(5), FailAbove: intp(2)}},
			want: []checks.Problem{
				{Field: "discover.prefix", Msg: `prefix "a b" may hold only letters, digits, '-', '_' and '.'`},
				{Field: "inflow_above", Msg: "inflow_above must not be negative, got -1"},
				{Field: "warn_above", Msg: "warn_above (5) must not be greater than fail_above (2)"},
			}},
		{name: "valid", spec: sqsdlq.Spec{Queues: []string{"a-dlq", "https://sqs.us-east-1.amazonaws.com/123456789012/b-dlq.fifo"}, Discover: &sqsdlq.Discover{Suffix: "-dlq"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.Validate(checks.SpecEnv{}); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("problems = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
