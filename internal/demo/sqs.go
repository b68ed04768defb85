package demo

import (
	"context"
	"crypto/md5" //nolint:gosec // SQS's MD5OfMessageBody is MD5 by definition
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// FakeSQS is the sandbox's SQS-compatible endpoint. It is for the demo
// only: an in-process server on a loopback port that speaks the AWS JSON
// protocol (X-Amz-Target: AmazonSQS.<Op>, application/x-amz-json-1.0) for
// the operations vigil and the sandbox call — CreateQueue, ListQueues,
// GetQueueUrl, GetQueueAttributes, ListDeadLetterSourceQueues, SendMessage,
// PurgeQueue, StartMessageMoveTask, ListMessageMoveTasks and
// CancelMessageMoveTask — and answers any other with UnsupportedOperation.
// Every response carries "X-Vigil-Demo: in-process SQS fake".
//
// Messages are never delivered to consumers (there is no ReceiveMessage);
// the sandbox plays the consumer through Process and FailAll. A message
// move task moves messages at its rate as time passes, back to the queue
// each came from, or to the DLQ's first source queue for a message sent to
// the DLQ directly. Its methods are safe for concurrent use.
type FakeSQS struct {
	*loopbackServer
	now func() time.Time

	mu     sync.Mutex
	queues map[string]*fakeQueue // by name
	tasks  []*moveTask           // oldest first
}

// FakeRegion and FakeAccount are what the fake puts in queue URLs and ARNs.
const (
	FakeRegion  = "us-east-1"
	FakeAccount = "000000000000"
)

type fakeQueue struct {
	name     string
	url, arn string
	attrs    map[string]string // settable attributes (RedrivePolicy, MessageRetentionPeriod, ...)
	created  time.Time
	messages []fakeMessage
}

type fakeMessage struct {
	id, body string
	origin   string // ARN of the queue it was moved from to a DLQ; "" when sent directly
}

type moveTask struct {
	handle       string
	source, dest string // ARNs; dest "" = back to each message's origin
	rate         int    // messages per second
	started      time.Time
	toMove       int64
	moved        int64
	status       string
	failure      string
}

// StartFakeSQS listens on 127.0.0.1:0 and serves until Close. now is the
// clock of move tasks (time.Now when nil).
func StartFakeSQS(now func() time.Time) (*FakeSQS, error) {
	if now == nil {
		now = time.Now
	}
	f := &FakeSQS{now: now, queues: map[string]*fakeQueue{}}
	srv, err := startLoopback("fake sqs", f)
	if err != nil {
		return nil, err
	}
	f.loopbackServer = srv
	return f, nil
}

// Client returns an SQS client for the fake: static dummy credentials (so
// the SDK never looks for real ones, for example on the EC2 metadata
// endpoint), the fake's endpoint, and an HTTP client that dials loopback
// addresses only.
func (f *FakeSQS) Client() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       FakeRegion,
		BaseEndpoint: aws.String(f.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("demo", "demo", ""),
		HTTPClient:   LoopbackClient(10 * time.Second),
	})
}

// CreateQueue creates a queue (or returns the existing one's URL) with the
// given attributes, as the CreateQueue operation does.
func (f *FakeSQS) CreateQueue(name string, attrs map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.createLocked(name, attrs).url
}

func (f *FakeSQS) createLocked(name string, attrs map[string]string) *fakeQueue {
	if q, ok := f.queues[name]; ok {
		return q
	}
	q := &fakeQueue{
		name:    name,
		url:     f.endpoint + "/" + FakeAccount + "/" + name,
		arn:     "arn:aws:sqs:" + FakeRegion + ":" + FakeAccount + ":" + name,
		attrs:   map[string]string{"MessageRetentionPeriod": "345600", "VisibilityTimeout": "30", "DelaySeconds": "0"},
		created: f.now(),
	}
	for k, v := range attrs {
		q.attrs[k] = v
	}
	f.queues[name] = q
	return q
}

// ARN returns a queue's ARN ("" for an unknown queue).
func (f *FakeSQS) ARN(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q, ok := f.queues[name]; ok {
		return q.arn
	}
	return ""
}

// Depth returns how many messages a queue holds (0 for an unknown queue).
func (f *FakeSQS) Depth(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked()
	if q, ok := f.queues[name]; ok {
		return len(q.messages)
	}
	return 0
}

// Process plays a healthy consumer: it deletes every message of the named
// queue and returns how many there were.
func (f *FakeSQS) Process(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked()
	q, ok := f.queues[name]
	if !ok {
		return 0
	}
	n := len(q.messages)
	q.messages = nil
	return n
}

// FailAll plays a broken consumer: every message of the named queue
// exhausts its receives and moves to the queue's dead-letter target. It
// returns how many moved.
func (f *FakeSQS) FailAll(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked()
	q, ok := f.queues[name]
	if !ok {
		return 0
	}
	dlq := f.byARNLocked(deadLetterTarget(q))
	if dlq == nil {
		return 0
	}
	for _, m := range q.messages {
		m.origin = q.arn
		dlq.messages = append(dlq.messages, m)
	}
	n := len(q.messages)
	q.messages = nil
	return n
}

// MoveTask is one message move task, as ListMessageMoveTasks reports it.
type MoveTask struct {
	Source  string // the DLQ's name
	Status  string // RUNNING, COMPLETED, CANCELLED or FAILED
	Rate    int
	Moved   int64
	ToMove  int64
	Started time.Time
}

// MoveTasks returns every move task started so far, oldest first.
func (f *FakeSQS) MoveTasks() []MoveTask {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked()
	out := make([]MoveTask, 0, len(f.tasks))
	for _, t := range f.tasks {
		out = append(out, MoveTask{Source: nameFromARN(t.source), Status: t.status, Rate: t.rate, Moved: t.moved, ToMove: t.toMove, Started: t.started})
	}
	return out
}

// sqsError is an AWS JSON protocol error.
type sqsError struct {
	status    int
	typ       string // shape name, e.g. QueueDoesNotExist
	queryCode string // the AWS query error code, e.g. AWS.SimpleQueueService.NonExistentQueue
	msg       string
}

func (e *sqsError) Error() string { return e.typ + ": " + e.msg }

func errNoQueue(what string) *sqsError {
	return &sqsError{http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist: " + what}
}

func errInvalid(msg string) *sqsError {
	return &sqsError{http.StatusBadRequest, "InvalidParameterValueException", "InvalidParameterValue", msg}
}

func errNotFound(msg string) *sqsError {
	return &sqsError{http.StatusBadRequest, "ResourceNotFoundException", "ResourceNotFoundException", msg}
}

// ServeHTTP answers one AWS JSON request.
func (f *FakeSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Vigil-Demo", "in-process SQS fake")
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if r.Method != http.MethodPost || !ok {
		writeSQSError(w, &sqsError{http.StatusBadRequest, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "want POST with X-Amz-Target: AmazonSQS.<Operation>"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeSQSError(w, errInvalid("read body: "+err.Error()))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	out, err := f.call(op, body)
	if err != nil {
		var se *sqsError
		if !errors.As(err, &se) {
			se = errInvalid(err.Error())
		}
		writeSQSError(w, se)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

func writeSQSError(w http.ResponseWriter, e *sqsError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Query-Error", e.queryCode+";Sender")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + e.typ, "message": e.msg})
}

// call runs one operation on its JSON input.
func (f *FakeSQS) call(op string, body []byte) (any, error) {
	var in struct {
		QueueName, QueueUrl, QueueNamePrefix, NextToken string
		QueueOwnerAWSAccountId                          string
		MaxResults                                      *int
		AttributeNames                                  []string
		Attributes                                      map[string]string
		MessageBody                                     string
		SourceArn, DestinationArn, TaskHandle           string
		MaxNumberOfMessagesPerSecond                    *int
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errInvalid("malformed JSON body: " + err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceLocked()
	switch op {
	case "CreateQueue":
		if in.QueueName == "" {
			return nil, errInvalid("QueueName is required")
		}
		return map[string]string{"QueueUrl": f.createLocked(in.QueueName, in.Attributes).url}, nil
	case "GetQueueUrl":
		if in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != FakeAccount {
			return nil, errNoQueue(in.QueueName)
		}
		q, ok := f.queues[in.QueueName]
		if !ok {
			return nil, errNoQueue(in.QueueName)
		}
		return map[string]string{"QueueUrl": q.url}, nil
	case "ListQueues":
		var urls []string
		for _, q := range f.sortedLocked() {
			if strings.HasPrefix(q.name, in.QueueNamePrefix) {
				urls = append(urls, q.url)
			}
		}
		return page("QueueUrls", urls, in.NextToken, in.MaxResults)
	case "GetQueueAttributes":
		q, err := f.byURLLocked(in.QueueUrl)
		if err != nil {
			return nil, err
		}
		return map[string]map[string]string{"Attributes": f.attributesLocked(q, in.AttributeNames)}, nil
	case "ListDeadLetterSourceQueues":
		q, err := f.byURLLocked(in.QueueUrl)
		if err != nil {
			return nil, err
		}
		var urls []string
		for _, src := range f.sourcesLocked(q) {
			urls = append(urls, src.url)
		}
		return page("queueUrls", urls, in.NextToken, in.MaxResults)
	case "SendMessage":
		q, err := f.byURLLocked(in.QueueUrl)
		if err != nil {
			return nil, err
		}
		if in.MessageBody == "" {
			return nil, errInvalid("MessageBody is required")
		}
		m := fakeMessage{id: newID(), body: in.MessageBody}
		q.messages = append(q.messages, m)
		sum := md5.Sum([]byte(in.MessageBody)) //nolint:gosec // the protocol's checksum
		return map[string]string{"MessageId": m.id, "MD5OfMessageBody": hex.EncodeToString(sum[:])}, nil
	case "PurgeQueue":
		q, err := f.byURLLocked(in.QueueUrl)
		if err != nil {
			return nil, err
		}
		q.messages = nil
		return struct{}{}, nil
	case "StartMessageMoveTask":
		return f.startTaskLocked(in.SourceArn, in.DestinationArn, in.MaxNumberOfMessagesPerSecond)
	case "ListMessageMoveTasks":
		return f.listTasksLocked(in.SourceArn, in.MaxResults)
	case "CancelMessageMoveTask":
		for _, t := range f.tasks {
			if t.handle == in.TaskHandle && t.status == "RUNNING" {
				t.status = "CANCELLED"
				return map[string]int64{"ApproximateNumberOfMessagesMoved": t.moved}, nil
			}
		}
		return nil, errNotFound("no running message move task with handle " + in.TaskHandle)
	default:
		return nil, &sqsError{http.StatusBadRequest, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "the demo's SQS fake does not implement " + op}
	}
}

// page returns one page of items under key, with NextToken when more follow.
func page(key string, items []string, token string, max *int) (map[string]any, error) {
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(items) {
			return nil, errInvalid("invalid NextToken")
		}
		start = n
	}
	size := len(items) - start
	if max != nil {
		if *max < 1 || *max > 1000 {
			return nil, errInvalid("MaxResults must be between 1 and 1000")
		}
		size = min(size, *max)
	}
	out := map[string]any{key: items[start : start+size]}
	if start+size < len(items) {
		out["NextToken"] = strconv.Itoa(start + size)
	}
	return out, nil
}

func (f *FakeSQS) sortedLocked() []*fakeQueue {
	qs := make([]*fakeQueue, 0, len(f.queues))
	for _, q := range f.queues {
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].name < qs[j].name })
	return qs
}

func (f *FakeSQS) byURLLocked(u string) (*fakeQueue, error) {
	for _, q := range f.queues {
		if q.url == u {
			return q, nil
		}
	}
	return nil, errNoQueue(u)
}

func (f *FakeSQS) byARNLocked(arn string) *fakeQueue {
	if arn == "" {
		return nil
	}
	for _, q := range f.queues {
		if q.arn == arn {
			return q
		}
	}
	return nil
}

// sourcesLocked returns the queues whose RedrivePolicy targets q, by name.
func (f *FakeSQS) sourcesLocked(q *fakeQueue) []*fakeQueue {
	var out []*fakeQueue
	for _, src := range f.sortedLocked() {
		if deadLetterTarget(src) == q.arn {
			out = append(out, src)
		}
	}
	return out
}

func deadLetterTarget(q *fakeQueue) string {
	var rp struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	}
	if json.Unmarshal([]byte(q.attrs["RedrivePolicy"]), &rp) != nil {
		return ""
	}
	return rp.DeadLetterTargetArn
}

// attributesLocked answers GetQueueAttributes for the names asked ("All"
// for every one).
func (f *FakeSQS) attributesLocked(q *fakeQueue, names []string) map[string]string {
	all := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(len(q.messages)),
		"ApproximateNumberOfMessagesNotVisible": "0",
		"ApproximateNumberOfMessagesDelayed":    "0",
		"QueueArn":                              q.arn,
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.created.Unix(), 10),
	}
	for k, v := range q.attrs {
		all[k] = v
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}

func (f *FakeSQS) startTaskLocked(sourceARN, destARN string, rate *int) (any, error) {
	src := f.byARNLocked(sourceARN)
	if src == nil {
		return nil, errNotFound("source queue " + sourceARN + " does not exist")
	}
	sources := f.sourcesLocked(src)
	if len(sources) == 0 {
		return nil, errInvalid("source queue " + src.name + " is not the dead-letter queue of any queue")
	}
	if destARN != "" && f.byARNLocked(destARN) == nil {
		return nil, errNotFound("destination queue " + destARN + " does not exist")
	}
	r := 500
	if rate != nil {
		if *rate < 1 || *rate > 500 {
			return nil, errInvalid("MaxNumberOfMessagesPerSecond must be between 1 and 500")
		}
		r = *rate
	}
	for _, t := range f.tasks {
		if t.source == sourceARN && t.status == "RUNNING" {
			return nil, errInvalid("a message move task is already running on " + src.name)
		}
	}
	t := &moveTask{handle: newID(), source: sourceARN, dest: destARN, rate: r, started: f.now(), toMove: int64(len(src.messages)), status: "RUNNING"}
	f.tasks = append(f.tasks, t)
	return map[string]string{"TaskHandle": t.handle}, nil
}

func (f *FakeSQS) listTasksLocked(sourceARN string, max *int) (any, error) {
	if f.byARNLocked(sourceARN) == nil {
		return nil, errNotFound("source queue " + sourceARN + " does not exist")
	}
	limit := 1
	if max != nil {
		limit = *max
	}
	type entry struct {
		TaskHandle                        string `json:",omitempty"`
		Status                            string
		SourceArn                         string
		DestinationArn                    string `json:",omitempty"`
		MaxNumberOfMessagesPerSecond      int
		ApproximateNumberOfMessagesMoved  int64
		ApproximateNumberOfMessagesToMove int64
		FailureReason                     string `json:",omitempty"`
		StartedTimestamp                  int64
	}
	results := []entry{}
	for i := len(f.tasks) - 1; i >= 0 && len(results) < limit; i-- {
		t := f.tasks[i]
		if t.source != sourceARN {
			continue
		}
		e := entry{Status: t.status, SourceArn: t.source, DestinationArn: t.dest, MaxNumberOfMessagesPerSecond: t.rate,
			ApproximateNumberOfMessagesMoved: t.moved, ApproximateNumberOfMessagesToMove: t.toMove,
			FailureReason: t.failure, StartedTimestamp: t.started.UnixMilli()}
		if t.status == "RUNNING" {
			e.TaskHandle = t.handle
		}
		results = append(results, e)
	}
	return map[string]any{"Results": results}, nil
}

// advanceLocked moves what each running task has had time to move.
func (f *FakeSQS) advanceLocked() {
	now := f.now()
	for _, t := range f.tasks {
		if t.status != "RUNNING" {
			continue
		}
		due := int64(now.Sub(t.started).Seconds()*float64(t.rate)) + 1 // the first message moves at once
		src := f.byARNLocked(t.source)
		for t.moved < min(due, t.toMove) && src != nil && len(src.messages) > 0 {
			m := src.messages[0]
			dest := f.byARNLocked(t.dest)
			if dest == nil {
				dest = f.byARNLocked(m.origin)
			}
			if dest == nil {
				if sources := f.sourcesLocked(src); len(sources) > 0 {
					dest = sources[0]
				}
			}
			if dest == nil {
				t.status, t.failure = "FAILED", "no destination for message "+m.id
				break
			}
			src.messages = src.messages[1:]
			m.origin = ""
			dest.messages = append(dest.messages, m)
			t.moved++
		}
		if t.status == "RUNNING" && (t.moved >= t.toMove || src == nil || len(src.messages) == 0) {
			t.status = "COMPLETED"
		}
	}
}

func nameFromARN(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// newID returns 32 random hex digits.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

// LoopbackClient returns an HTTP client that connects to loopback
// addresses only (and ignores proxy settings): the sandbox's own clients
// use it, so nothing they send can leave the machine.
func LoopbackClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil, DialContext: LoopbackDial}}
}

// ErrNotLoopback is returned by LoopbackDial for any other address.
var ErrNotLoopback = errors.New("demo: the sandbox connects to loopback addresses only")

// LoopbackDial dials addr only when its host is a loopback IP address or
// "localhost"; any other address, a host name included (resolving it could
// itself send a DNS query out), is refused with ErrNotLoopback before
// anything is sent.
func LoopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("demo: dial %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return nil, fmt.Errorf("demo: dial %s: %w", addr, ErrNotLoopback)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}
