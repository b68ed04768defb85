package sqsdlq

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/sqstest"
)

const benchQueues = 200

// delayed adds a fixed round trip to every call, closer to a real AWS
// endpoint than loopback.
type delayed struct {
	next *sqstest.Calls
	rtt  time.Duration
}

func (d delayed) Do(req *http.Request) (*http.Response, error) {
	time.Sleep(d.rtt)
	return d.next.Do(req)
}

// BenchmarkRun runs a check over 200 discovered DLQs (each fed by its own
// source queue and holding one message) on the local server, one queue at
// a time and with the default bounded concurrency. "warm" is a scheduled
// run with the discovery cached; "cold" includes discovery; "rtt5ms" adds
// 5ms to every call. calls/queue is the SQS API calls per DLQ per run.
func BenchmarkRun(b *testing.B) {
	srv := sqstest.Start(b)
	for i := range benchQueues {
		p := srv.CreatePair(b, fmt.Sprintf("bench-%03d", i), fmt.Sprintf("bench-%03d-dlq", i), 3, nil, nil)
		srv.Send(b, p.DLQURL, 1)
	}
	calls := sqstest.NewCalls()
	open := func(b *testing.B, client sqs.HTTPClient) *datasource.SQS {
		ds, err := datasource.OpenSQS(context.Background(), "queues", sqstest.Region, srv.Endpoint, nil,
			func(o *sqs.Options) { o.HTTPClient = client })
		if err != nil {
			b.Fatal(err)
		}
		return ds
	}
	loopback := open(b, calls)
	rtt := open(b, delayed{next: calls, rtt: 5 * time.Millisecond})
	spec := &Spec{Discover: &Discover{Prefix: "bench-", Suffix: "-dlq"}}
	newCheck := func(b *testing.B, ds *datasource.SQS, workers int) *Check {
		c, err := spec.Build(checks.Deps{CheckID: "bench", Queues: ds})
		if err != nil {
			b.Fatal(err)
		}
		c.(*Check).concurrency = workers
		return c.(*Check)
	}
	run := func(b *testing.B, c *Check) {
		res, err := c.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if res.Violations != benchQueues {
			b.Fatalf("violations = %d, want %d", res.Violations, benchQueues)
		}
	}
	report := func(b *testing.B) {
		n := 0
		for _, v := range calls.Take() {
			n += v
		}
		b.ReportMetric(float64(n)/float64(b.N)/benchQueues, "calls/queue")
	}

	for _, workers := range []int{1, defaultWorker} {
		for _, net := range []struct {
			name string
			ds   *datasource.SQS
		}{{"loopback", loopback}, {"rtt5ms", rtt}} {
			b.Run(fmt.Sprintf("warm/%s/concurrency=%d", net.name, workers), func(b *testing.B) {
				c := newCheck(b, net.ds, workers)
				run(b, c) // discovers and caches
				calls.Take()
				b.ResetTimer()
				for range b.N {
					run(b, c)
				}
				b.StopTimer()
				report(b)
			})
		}
		b.Run(fmt.Sprintf("cold/loopback/concurrency=%d", workers), func(b *testing.B) {
			calls.Take()
			for range b.N {
				run(b, newCheck(b, loopback, workers))
			}
			b.StopTimer()
			report(b)
		})
	}
}
