package sqsdlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// dlq is one watched dead-letter queue and what feeds it.
type dlq struct {
	name string
	url  string
	// explicit is true for a queue named in `queues` (a missing one is an
	// error), false for a discovered one.
	explicit bool
	sources  []source
}

// source is a queue whose RedrivePolicy names a DLQ.
type source struct {
	name      string
	retention int // MessageRetentionPeriod in seconds; 0 when unknown
}

// topology resolves the DLQs this check watches and their sources. It
// costs GetQueueUrl per queue given by name, ListQueues plus one
// GetQueueAttributes per listed queue when discovering, and one
// ListDeadLetterSourceQueues per DLQ; the check caches it between runs.
func (c *Check) topology(ctx context.Context) ([]dlq, error) {
	byURL := map[string]*dlq{}
	var order []string
	var mu sync.Mutex
	add := func(d dlq) {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := byURL[d.url]; ok {
			prev.explicit = prev.explicit || d.explicit
			return
		}
		byURL[d.url] = &d
		order = append(order, d.url)
	}

	// Queues given by name or URL.
	err := each(ctx, c.concurrency, len(c.spec.Queues), func(ctx context.Context, i int) error {
		name, queueURL, err := parseQueue(c.spec.Queues[i])
		if err != nil {
			return err
		}
		if queueURL == "" {
			queueURL, err = c.queueURL(ctx, name, "")
			if err != nil {
				return err
			}
		}
		add(dlq{name: name, url: queueURL, explicit: true})
		return nil
	})
	if err != nil {
		return nil, err
	}

	// Discovered queues; listed keeps the retention each listed queue
	// reported, so sources found among them need no second call.
	retention := map[string]int{}
	if d := c.spec.Discover; d != nil {
		listed, err := c.discover(ctx, *d, add)
		if err != nil {
			return nil, err
		}
		retention = listed
	}

	dlqs := make([]dlq, len(order))
	for i, u := range order {
		dlqs[i] = *byURL[u]
	}
	if err := c.findSources(ctx, dlqs, retention); err != nil {
		return nil, err
	}
	sort.Slice(dlqs, func(i, j int) bool { return dlqs[i].name < dlqs[j].name })
	return dlqs, nil
}

// discover lists the queues under the prefix, adds those ending in the
// suffix and every dead-letter target of their RedrivePolicy, and returns
// the MessageRetentionPeriod of each listed queue by URL.
func (c *Check) discover(ctx context.Context, d Discover, add func(dlq)) (map[string]int, error) {
	var urls []string
	in := &sqs.ListQueuesInput{MaxResults: ptr(int32(1000))}
	if d.Prefix != "" {
		in.QueueNamePrefix = &d.Prefix
	}
	for {
		out, err := c.client.ListQueues(ctx, in)
		if err != nil {
			return nil, awsError(fmt.Sprintf("discover queues with prefix %q: list queues", d.Prefix), err)
		}
		urls = append(urls, out.QueueUrls...)
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		in.NextToken = out.NextToken
	}

	retention := make(map[string]int, len(urls))
	targets := map[string]string{} // target name -> account
	var mu sync.Mutex
	err := each(ctx, c.concurrency, len(urls), func(ctx context.Context, i int) error {
		u := urls[i]
		name := nameOf(u)
		if (d.Prefix != "" || d.Suffix != "") && strings.HasSuffix(name, d.Suffix) {
			add(dlq{name: name, url: u})
		}
		out, err := c.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: &u,
			AttributeNames: []types.QueueAttributeName{
				types.QueueAttributeNameRedrivePolicy,
				types.QueueAttributeNameMessageRetentionPeriod,
			},
		})
		if err != nil {
			if isMissing(err) { // deleted since ListQueues
				return nil
			}
			return awsError("queue "+name+": get attributes", err)
		}
		mu.Lock()
		defer mu.Unlock()
		retention[u] = atoi(out.Attributes[string(types.QueueAttributeNameMessageRetentionPeriod)])
		if rp := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]; rp != "" {
			var policy struct {
				DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			}
			if err := json.Unmarshal([]byte(rp), &policy); err != nil || policy.DeadLetterTargetArn == "" {
				return fmt.Errorf("queue %s: read RedrivePolicy %q: not a JSON object with deadLetterTargetArn", name, rp)
			}
			targets[nameOf(policy.DeadLetterTargetArn)] = arnAccount(policy.DeadLetterTargetArn)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	known := make(map[string]string, len(urls)) // name -> URL among the listed
	for _, u := range urls {
		known[nameOf(u)] = u
	}
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	err = each(ctx, c.concurrency, len(names), func(ctx context.Context, i int) error {
		name := names[i]
		u, ok := known[name]
		if !ok {
			var err error
			if u, err = c.queueURL(ctx, name, targets[name]); err != nil {
				return err
			}
		}
		add(dlq{name: name, url: u})
		return nil
	})
	return retention, err
}

// findSources fills each DLQ's sources (ListDeadLetterSourceQueues) with
// their retention, asking GetQueueAttributes only for sources whose
// retention is not already known.
func (c *Check) findSources(ctx context.Context, dlqs []dlq, retention map[string]int) error {
	sourceURLs := make([][]string, len(dlqs))
	err := each(ctx, c.concurrency, len(dlqs), func(ctx context.Context, i int) error {
		urls, err := listSources(ctx, c.client, dlqs[i].url)
		if err != nil {
			return fmt.Errorf("queue %s: %w", dlqs[i].name, err)
		}
		sourceURLs[i] = urls
		return nil
	})
	if err != nil {
		return err
	}
	var missing []string
	seen := map[string]bool{}
	for _, urls := range sourceURLs {
		for _, u := range urls {
			if _, ok := retention[u]; !ok && !seen[u] {
				seen[u] = true
				missing = append(missing, u)
			}
		}
	}
	got := make([]int, len(missing))
	err = each(ctx, c.concurrency, len(missing), func(ctx context.Context, i int) error {
		out, err := c.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       &missing[i],
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameMessageRetentionPeriod},
		})
		if err != nil {
			if isMissing(err) {
				return nil
			}
			return awsError("source queue "+nameOf(missing[i])+": get attributes", err)
		}
		got[i] = atoi(out.Attributes[string(types.QueueAttributeNameMessageRetentionPeriod)])
		return nil
	})
	if err != nil {
		return err
	}
	for i, u := range missing {
		retention[u] = got[i]
	}
	for i := range dlqs {
		for _, u := range sourceURLs[i] {
			dlqs[i].sources = append(dlqs[i].sources, source{name: nameOf(u), retention: retention[u]})
		}
		sort.Slice(dlqs[i].sources, func(a, b int) bool { return dlqs[i].sources[a].name < dlqs[i].sources[b].name })
	}
	return nil
}

// listSources returns the URLs of the queues whose RedrivePolicy names the
// queue at dlqURL.
func listSources(ctx context.Context, client *sqs.Client, dlqURL string) ([]string, error) {
	var urls []string
	in := &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: &dlqURL, MaxResults: ptr(int32(1000))}
	for {
		out, err := client.ListDeadLetterSourceQueues(ctx, in)
		if err != nil {
			return nil, awsError("list dead-letter source queues", err)
		}
		urls = append(urls, out.QueueUrls...)
		if out.NextToken == nil || *out.NextToken == "" {
			return urls, nil
		}
		in.NextToken = out.NextToken
	}
}

// queueURL resolves a queue name (owned by account when not empty).
func (c *Check) queueURL(ctx context.Context, name, account string) (string, error) {
	return resolveURL(ctx, c.client, name, account)
}

func resolveURL(ctx context.Context, client *sqs.Client, name, account string) (string, error) {
	in := &sqs.GetQueueUrlInput{QueueName: &name}
	if account != "" {
		in.QueueOwnerAWSAccountId = &account
	}
	out, err := client.GetQueueUrl(ctx, in)
	if err != nil {
		return "", awsError("queue "+name+": get queue url", err)
	}
	return *out.QueueUrl, nil
}

// awsError wraps err with the operation and, when AWS answered, its error
// code (AccessDenied, AWS.SimpleQueueService.NonExistentQueue, ...).
func awsError(op string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Errorf("%s: %s: %w", op, apiErr.ErrorCode(), err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isMissing reports whether err says the queue does not exist.
func isMissing(err error) bool {
	var notFound *types.QueueDoesNotExist
	if errors.As(err, &notFound) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode() == "AWS.SimpleQueueService.NonExistentQueue" || apiErr.ErrorCode() == "QueueDoesNotExist")
}

// each calls fn for 0..n-1 with at most limit calls at a time. The first
// error cancels the rest and is returned.
func each(ctx context.Context, limit, n int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func arnAccount(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) == 6 {
		return parts[4]
	}
	return ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func ptr[T any](v T) *T { return &v }
