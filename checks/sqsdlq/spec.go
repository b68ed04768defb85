// Package sqsdlq is the sqs_dlq kind: it watches dead-letter queues (their
// depth, growth since the last run, the source queues that feed them and a
// retention misconfiguration) and redrives them back to their sources.
//
// It reads queue attributes only: it never receives from a dead-letter
// queue (that would raise its messages' receive counts) and never asks for
// the age of the oldest message (a CloudWatch metric, not an attribute).
package sqsdlq

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigilhq/vigil/checks"
)

// Kind is the sqs_dlq kind.
var Kind = checks.Kind{
	Name:    "sqs_dlq",
	Needs:   checks.NeedsSQS,
	NewSpec: func() checks.Spec { return &Spec{} },
}

// Spec is an sqs_dlq check's configuration. warn_above and fail_above
// compare each queue's ApproximateNumberOfMessages.
type Spec struct {
	// Queues names dead-letter queues by name or by URL.
	Queues []string `yaml:"queues"`
	// Discover adds the queues whose names match, and every queue that a
	// listed queue's RedrivePolicy names as its dead-letter target.
	Discover *Discover `yaml:"discover"`
	// InflowAbove fails a queue that grew by more than this many messages
	// since the last run.
	InflowAbove *int `yaml:"inflow_above"`

	checks.Thresholds `yaml:",inline"`
}

// Discover selects queues by name. ListQueues lists the queues starting
// with Prefix (every queue when empty); those also ending with Suffix are
// dead-letter queues, and so is every dead-letter target named by a listed
// queue's RedrivePolicy. With neither prefix nor suffix only those targets
// are added (otherwise every queue, sources included, would count as a DLQ).
type Discover struct {
	Prefix string `yaml:"prefix"`
	Suffix string `yaml:"suffix"`
}

var (
	queueNameRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}(\.fifo)?$`)
	namePartRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]*$`)
	discoveryTTL  = 10 * time.Minute
	defaultWorker = 8
)

// Validate reports every problem with the configuration.
func (s *Spec) Validate(checks.SpecEnv) []checks.Problem {
	var ps []checks.Problem
	if len(s.Queues) == 0 && s.Discover == nil {
		ps = append(ps, checks.Problem{Field: "queues", Msg: "sqs_dlq needs queues, discover, or both"})
	}
	seen := map[string]int{}
	for i, q := range s.Queues {
		field := fmt.Sprintf("queues[%d]", i)
		name, _, err := parseQueue(q)
		if err != nil {
			ps = append(ps, checks.Problem{Field: field, Msg: err.Error()})
			continue
		}
		if j, dup := seen[name]; dup {
			ps = append(ps, checks.Problem{Field: field, Msg: fmt.Sprintf("queue %q is listed twice (also queues[%d])", name, j)})
			continue
		}
		seen[name] = i
	}
	if d := s.Discover; d != nil {
		if !namePartRE.MatchString(d.Prefix) {
			ps = append(ps, checks.Problem{Field: "discover.prefix", Msg: fmt.Sprintf("prefix %q may hold only letters, digits, '-', '_' and '.'", d.Prefix)})
		}
		if !namePartRE.MatchString(d.Suffix) {
			ps = append(ps, checks.Problem{Field: "discover.suffix", Msg: fmt.Sprintf("suffix %q may hold only letters, digits, '-', '_' and '.'", d.Suffix)})
		}
	}
	if s.InflowAbove != nil && *s.InflowAbove < 0 {
		ps = append(ps, checks.Problem{Field: "inflow_above", Msg: fmt.Sprintf("inflow_above must not be negative, got %d", *s.InflowAbove)})
	}
	return append(ps, s.Thresholds.Problems()...)
}

// Source is what an sqs_dlq check reads from: datasource.SQS satisfies it.
type Source interface {
	Name() string
	Client() *sqs.Client
}

// Build makes the check. deps.Queues must be a Source.
func (s *Spec) Build(deps checks.Deps) (checks.Check, error) {
	src, ok := deps.Queues.(Source)
	if !ok || src == nil {
		return nil, fmt.Errorf("sqs_dlq %s: datasource is not an SQS datasource (got %T)", deps.CheckID, deps.Queues)
	}
	return &Check{
		id:          deps.CheckID,
		client:      src.Client(),
		spec:        *s,
		timeout:     deps.Timeout,
		previous:    deps.Previous,
		now:         time.Now,
		concurrency: defaultWorker,
		refresh:     discoveryTTL,
	}, nil
}

// parseQueue reads a queue given by name or URL. It returns the name and,
// for a URL, the URL itself.
func parseQueue(q string) (name, queueURL string, err error) {
	q = strings.TrimSpace(q)
	if strings.Contains(q, "://") {
		u, perr := url.Parse(q)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", "", fmt.Errorf("queue URL %q is not an http(s) URL", q)
		}
		if u.User != nil || u.RawQuery != "" {
			return "", "", fmt.Errorf("queue URL must not carry credentials or a query string")
		}
		name = u.Path[strings.LastIndex(u.Path, "/")+1:]
		if !queueNameRE.MatchString(name) {
			return "", "", fmt.Errorf("queue URL %q does not end in a queue name", q)
		}
		return name, q, nil
	}
	if !queueNameRE.MatchString(q) {
		return "", "", fmt.Errorf("queue name %q is not valid (1 to 80 letters, digits, '-' or '_', optional .fifo)", q)
	}
	return q, "", nil
}

// nameOf returns the queue name at the end of a queue URL or ARN.
func nameOf(urlOrARN string) string {
	i := strings.LastIndexAny(urlOrARN, "/:")
	return urlOrARN[i+1:]
}
