// Package sqstest starts a real SQS-compatible server for tests: the npm
// package local-aws-sqs (2.0.2) on the machine's Node, listening on a free
// loopback port, stopped when the test ends.
//
// It installs nothing. The package must already be under the folder named
// by VIGIL_NODE_MODULES (default <repo>/.cache/node/node_modules, filled by
// `npm install --prefix .cache/node local-aws-sqs@2.0.2`). When node or the
// package is missing the test is skipped, except under CI=true, where it
// fails: CI must never pass by skipping.
package sqstest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/vigilhq/vigil/internal/datasource"
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
// JSON line, and exits when its stdin closes (so it never outlives the test
// binary, even one that is killed).
const startScript = `
const { createSqsServer } = require(process.env.VIGIL_SQS_MODULE);
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
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable(tb, "node is not on PATH")
	}
	module := filepath.Join(NodeModules(tb), "local-aws-sqs")
	if err := checkVersion(module); err != nil {
		unavailable(tb, err.Error())
	}

	tb.Setenv("AWS_ACCESS_KEY_ID", "test")
	tb.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	tb.Setenv("AWS_SESSION_TOKEN", "")
	tb.Setenv("AWS_REGION", Region)
	tb.Setenv("AWS_PROFILE", "")
	tb.Setenv("AWS_CONFIG_FILE", filepath.Join(tb.TempDir(), "aws-config"))
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(tb.TempDir(), "aws-credentials"))
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	cmd := exec.Command(node, "-e", startScript)
	cmd.Env = append(os.Environ(), "VIGIL_SQS_MODULE="+module)
	cmd.Stderr = &tbWriter{tb: tb}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatalf("sqstest: stdin pipe: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("sqstest: stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("sqstest: start node: %v", err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }() //nolint:errcheck // exit status of a stopped server
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill() //nolint:errcheck // best effort
			<-done
		}
	})

	port, err := readPort(stdout, 15*time.Second)
	if err != nil {
		tb.Fatalf("sqstest: start local-aws-sqs: %v", err)
	}
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	ds, err := datasource.OpenSQS(context.Background(), "sqstest", Region, endpoint, nil)
	if err != nil {
		tb.Fatalf("sqstest: %v", err)
	}
	return &Server{Endpoint: endpoint, Client: ds.Client()}
}

// NodeModules returns the node_modules folder the harness reads:
// VIGIL_NODE_MODULES, else <repo>/.cache/node/node_modules where <repo> is
// the nearest folder above the working directory holding go.mod.
func NodeModules(tb testing.TB) string {
	tb.Helper()
	if dir := os.Getenv("VIGIL_NODE_MODULES"); dir != "" {
		return dir
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("sqstest: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache", "node", "node_modules")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("sqstest: no go.mod above the working directory; set VIGIL_NODE_MODULES")
		}
		dir = parent
	}
}

func checkVersion(module string) error {
	raw, err := os.ReadFile(filepath.Join(module, "package.json"))
	if err != nil {
		return fmt.Errorf("local-aws-sqs is not installed (%v); run: npm install --prefix .cache/node local-aws-sqs@%s", err, Version)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return fmt.Errorf("read %s: %v", filepath.Join(module, "package.json"), err)
	}
	if pkg.Version != Version {
		return fmt.Errorf("local-aws-sqs %s is installed, want %s", pkg.Version, Version)
	}
	return nil
}

func unavailable(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("sqstest: SQS server unavailable under CI: %s", why)
	}
	tb.Skipf("sqstest: SQS server unavailable: %s", why)
}

func readPort(r io.Reader, timeout time.Duration) (int, error) {
	type line struct {
		text string
		err  error
	}
	ch := make(chan line, 1)
	go func() {
		s := bufio.NewScanner(r)
		if s.Scan() {
			ch <- line{text: s.Text()}
			io.Copy(io.Discard, r) //nolint:errcheck // keep the pipe drained
			return
		}
		err := s.Err()
		if err == nil {
			err = errors.New("server exited before printing its port")
		}
		ch <- line{err: err}
	}()
	select {
	case l := <-ch:
		if l.err != nil {
			return 0, l.err
		}
		var msg struct {
			Port int `json:"port"`
		}
		if err := json.Unmarshal([]byte(l.text), &msg); err != nil || msg.Port == 0 {
			return 0, fmt.Errorf("unexpected first line %q", l.text)
		}
		return msg.Port, nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("no port after %s", timeout)
	}
}

type tbWriter struct{ tb testing.TB }

func (w *tbWriter) Write(p []byte) (int, error) {
	w.tb.Logf("local-aws-sqs: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
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
