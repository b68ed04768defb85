// Package sqstest starts a real SQS-compatible server for tests: the npm
// package local-aws-sqs (2.0.2) on the machine's Node, listening on a free
// loopback port, stopped when the test ends (see internal/nodetest: it is
// skipped without node or the package, and fails under CI=true).
package sqstest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/nodetest"
)

// Version is the local-aws-sqs release the harness expects.
const Version = "2.0.2"

// Region is the region the server puts in queue ARNs.
const Region = "us-east-1"

// Server is a running local-aws-sqs.
type Server struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:40123.
	Endpoint string
	// Client talks to the server with dummy credentials.
	Client *sqs.Client
}

// startScript starts the server on port 0, prints the chosen port as one
// JSON line, and exits when its stdin closes.
const startScript = `
const { createSqsServer } = require(process.env.VIGIL_NODE_MODULE);
createSqsServer({ port: 0, hostname: "127.0.0.1", emulateQueueCreationLifecycle: false })
  .then((server) => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
    process.stdin.on("end", () => { server.close(); process.exit(0); });
    process.stdin.resume();
  })
  .catch((err) => { console.error(err); process.exit(1); });
`

// Start starts a fresh server for the test and stops it at cleanup. It sets
// dummy AWS credentials and region in the environment (tb.Setenv), so that
// datasource.OpenSQS finds them through the standard chain; tests that use
// it cannot run in parallel.
func Start(tb testing.TB) *Server {
	tb.Helper()
	nodetest.AWSEnvironment(tb, "test", "test", Region)

	port := nodetest.Start(tb, nodetest.Server{Package: "local-aws-sqs", Version: Version, Script: startScript})
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	ds, err := datasource.OpenSQS(context.Background(), "sqstest", Region, endpoint, nil)
	if err != nil {
		tb.Fatalf("sqstest: %v", err)
	}
	return &Server{Endpoint: endpoint, Client: ds.Client()}
}

// CreateQueue creates a queue with the given attributes and returns its URL.
func (s *Server) CreateQueue(tb testing.TB, name string, attrs map[string]string) string {
	tb.Helper()
	out, err := s.Client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		tb.Fatalf("sqstest: create queue %s: %v", name, err)
	}
	return *out.QueueUrl
}

// QueueARN returns a queue's ARN.
func (s *Server) QueueARN(tb testing.TB, url string) string {
	tb.Helper()
	return s.Attributes(tb, url, types.QueueAttributeNameQueueArn)[string(types.QueueAttributeNameQueueArn)]
}

// Attributes returns the named attributes of a queue.
func (s *Server) Attributes(tb testing.TB, url string, names ...types.QueueAttributeName) map[string]string {
	tb.Helper()
	out, err := s.Client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: names})
	if err != nil {
		tb.Fatalf("sqstest: get attributes of %s: %v", url, err)
	}
	return out.Attributes
}

// Depth returns a queue's ApproximateNumberOfMessages.
func (s *Server) Depth(tb testing.TB, url string) int {
	tb.Helper()
	v := s.Attributes(tb, url, types.QueueAttributeNameApproximateNumberOfMessages)[string(types.QueueAttributeNameApproximateNumberOfMessages)]
	n, err := strconv.Atoi(v)
	if err != nil {
		tb.Fatalf("sqstest: depth of %s: %q: %v", url, v, err)
	}
	return n
}

// Pair is a source queue and the dead-letter queue its RedrivePolicy names.
type Pair struct {
	SourceURL, DLQURL   string
	SourceName, DLQName string
	SourceARN, DLQARN   string
	MaxReceiveCount     int
}

// CreatePair creates a dead-letter queue and a source queue whose
// RedrivePolicy sends a message there after maxReceiveCount receives.
// extraSource and extraDLQ add attributes (e.g. MessageRetentionPeriod).
func (s *Server) CreatePair(tb testing.TB, source, dlq string, maxReceiveCount int, extraSource, extraDLQ map[string]string) Pair {
	tb.Helper()
	dlqURL := s.CreateQueue(tb, dlq, extraDLQ)
	dlqARN := s.QueueARN(tb, dlqURL)
	attrs := map[string]string{
		"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, dlqARN, maxReceiveCount),
	}
	for k, v := range extraSource {
		attrs[k] = v
	}
	srcURL := s.CreateQueue(tb, source, attrs)
	// local-aws-sqs ignores VisibilityTimeout at CreateQueue, and the SDK
	// omits a zero VisibilityTimeout on ReceiveMessage; setting it on the
	// queue makes a received message visible again at once.
	if _, err := s.Client.SetQueueAttributes(context.Background(), &sqs.SetQueueAttributesInput{
		QueueUrl: &srcURL, Attributes: map[string]string{"VisibilityTimeout": "0"},
	}); err != nil {
		tb.Fatalf("sqstest: set visibility timeout of %s: %v", source, err)
	}
	return Pair{
		SourceURL: srcURL, DLQURL: dlqURL, MaxReceiveCount: maxReceiveCount,
		SourceName: source, DLQName: dlq, SourceARN: s.QueueARN(tb, srcURL), DLQARN: dlqARN,
	}
}

// Send sends n messages to a queue.
func (s *Server) Send(tb testing.TB, url string, n int) {
	tb.Helper()
	for i := range n {
		body := fmt.Sprintf("message %d", i)
		if _, err := s.Client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body}); err != nil {
			tb.Fatalf("sqstest: send to %s: %v", url, err)
		}
	}
}

// FailMessages sends n messages to the pair's source queue and receives
// from the source (never from the DLQ) without deleting, each message
// visible again at once (CreatePair set the source's VisibilityTimeout to
// 0), until all n have exhausted
// maxReceiveCount and moved to the DLQ. The DLQ then holds n more.
func (s *Server) FailMessages(tb testing.TB, p Pair, n int) {
	tb.Helper()
	before := s.Depth(tb, p.DLQURL)
	s.Send(tb, p.SourceURL, n)
	ctx := context.Background()
	limit := (p.MaxReceiveCount + 2) * (n/10 + 2) * 4
	for range limit {
		if s.Depth(tb, p.DLQURL)-before >= n {
			return
		}
		_, err := s.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            &p.SourceURL,
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     0,
		})
		if err != nil {
			tb.Fatalf("sqstest: receive from %s: %v", p.SourceURL, err)
		}
	}
	tb.Fatalf("sqstest: %d messages did not reach %s after %d receives (depth %d)", n, p.DLQName, limit, s.Depth(tb, p.DLQURL)-before)
}

// Calls counts SQS API calls by operation. Pass it as the client's
// HTTPClient (datasource.OpenSQS(..., func(o *sqs.Options) { o.HTTPClient = calls })).
type Calls struct {
	next *http.Client
	mu   sync.Mutex
	n    map[string]int
}

// NewCalls returns a counter that sends requests with a plain http.Client.
func NewCalls() *Calls { return &Calls{next: &http.Client{}, n: map[string]int{}} }

// Do counts the request's operation (its X-Amz-Target, e.g.
// "GetQueueAttributes") and sends it.
func (c *Calls) Do(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	op = op[strings.LastIndex(op, ".")+1:]
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
	return c.next.Do(req)
}

// Take returns the counts since the last Take and starts again from zero.
func (c *Calls) Take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}
