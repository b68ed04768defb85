// Package s3freshness is the s3_freshness kind: ETL extracts land files
// under S3 prefixes before the warehouse loads them, and a stalled extract
// shows there first. For each configured prefix it finds the newest
// partition (see Landing) and reports a prefix whose newest object is too
// old, a newest partition with too few objects, and objects in it that are
// too small (zero-byte files).
//
// It only lists (ListObjectsV2, a bounded number of pages per prefix): it
// never downloads an object.
package s3freshness

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilhq/vigil/checks"
)

// Kind registers the s3_freshness kind.
var Kind = checks.Kind{Name: "s3_freshness", Needs: checks.NeedsS3, NewSpec: func() checks.Spec { return &Spec{} }}

// Listing bounds: each prefix lists at most max_pages pages of up to 1,000
// keys (S3's page size), DefaultMaxPages unless configured.
const (
	DefaultMaxPages = 100
	MaxMaxPages     = 10000
)

// ClockSkew is how far in the future a newest object may be and still read
// as just landed (clocks differ a little); further is a violation that fails.
const ClockSkew = 5 * time.Minute

// Spec is an s3_freshness check's configuration. It has no warn_above or
// fail_above: the status is the worst over its prefixes and objects.
type Spec struct {
	// Bucket is the bucket every prefix is in.
	Bucket string `yaml:"bucket"`
	// Prefixes are the landing prefixes watched.
	Prefixes []Prefix `yaml:"prefixes"`
	// MaxPages bounds the ListObjectsV2 pages read for one prefix in one
	// run (DefaultMaxPages when 0). A prefix that needs more is an error
	// naming it: the newest object could be among the keys not read.
	MaxPages int `yaml:"max_pages"`

	now      func() time.Time
	pageSize int32 // keys per page; 0: S3's default (1,000)
}

// Prefix is one watched landing prefix.
type Prefix struct {
	// Prefix is the key prefix, e.g. "raw/sales/" (the violation key).
	Prefix string `yaml:"prefix"`
	// WarnAfter: a newest object older than this warns. ErrorAfter: older
	// than this fails. At least one is required; when both are set
	// WarnAfter must not be longer than ErrorAfter.
	WarnAfter  time.Duration `yaml:"warn_after"`
	ErrorAfter time.Duration `yaml:"error_after"`
	// MinObjects fails a newest partition with fewer data objects (default
	// 1; 0 turns the rule off).
	MinObjects *int `yaml:"min_objects"`
	// MinBytes fails each data object of the newest partition smaller than
	// this (default 1: zero-byte objects; 0 turns the rule off).
	MinBytes *int64 `yaml:"min_bytes"`
}

func (p Prefix) minObjects() int {
	if p.MinObjects == nil {
		return 1
	}
	return *p.MinObjects
}

func (p Prefix) minBytes() int64 {
	if p.MinBytes == nil {
		return 1
	}
	return *p.MinBytes
}

// SetNow makes the check's runs read the clock from now instead of
// time.Now (tests, the demo). It must be called before Build.
func (s *Spec) SetNow(now func() time.Time) { s.now = now }

// bucketRE is S3's bucket naming rule (3 to 63 lowercase letters, digits,
// dots and hyphens, beginning and ending with a letter or digit).
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// maxKeyBytes is S3's limit on a key's length (UTF-8 bytes).
const maxKeyBytes = 1024

// Validate reports every problem: a missing or malformed bucket, no
// prefixes, an empty, absolute, URL-shaped, duplicate or over-long prefix,
// a missing, negative or inverted age, negative minimums and max_pages out
// of range.
func (s *Spec) Validate(checks.SpecEnv) []checks.Problem {
	var ps []checks.Problem
	switch {
	case s.Bucket == "":
		ps = append(ps, checks.Problem{Field: "bucket", Msg: "bucket is required"})
	case strings.HasPrefix(s.Bucket, "s3://") || strings.Contains(s.Bucket, "/"):
		ps = append(ps, checks.Problem{Field: "bucket", Msg: fmt.Sprintf("bucket must be a bucket name, not a path or URL: got %q (put the path in prefixes)", s.Bucket)})
	case !bucketRE.MatchString(s.Bucket) || strings.Contains(s.Bucket, ".."):
		ps = append(ps, checks.Problem{Field: "bucket", Msg: fmt.Sprintf("bucket %q is not a valid S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-')", s.Bucket)})
	}
	if len(s.Prefixes) == 0 {
		ps = append(ps, checks.Problem{Field: "prefixes", Msg: "prefixes is required: list at least one {prefix, warn_after}"})
	}
	seen := map[string]int{}
	for i, p := range s.Prefixes {
		field := func(name string) string { return fmt.Sprintf("prefixes[%d].%s", i, name) }
		first, dup := seen[p.Prefix]
		switch {
		case p.Prefix == "":
			ps = append(ps, checks.Problem{Field: field("prefix"), Msg: "prefix is required (e.g. raw/sales/)"})
		case strings.Contains(p.Prefix, "://"):
			ps = append(ps, checks.Problem{Field: field("prefix"), Msg: fmt.Sprintf("prefix must be a key prefix inside the bucket, not a URL: got %q", p.Prefix)})
		case strings.HasPrefix(p.Prefix, "/"):
			ps = append(ps, checks.Problem{Field: field("prefix"), Msg: fmt.Sprintf("prefix %q starts with '/': S3 keys have no leading slash", p.Prefix)})
		case !utf8.ValidString(p.Prefix) || len(p.Prefix) > maxKeyBytes:
			ps = append(ps, checks.Problem{Field: field("prefix"), Msg: fmt.Sprintf("prefix must be UTF-8 of at most %d bytes", maxKeyBytes)})
		case dup:
			ps = append(ps, checks.Problem{Field: field("prefix"), Msg: fmt.Sprintf("duplicate prefix %q (also prefixes[%d])", p.Prefix, first)})
		default:
			seen[p.Prefix] = i
		}
		switch {
		case p.WarnAfter == 0 && p.ErrorAfter == 0:
			ps = append(ps, checks.Problem{Field: field("warn_after"), Msg: "warn_after or error_after is required (e.g. warn_after: 2h)"})
		case p.WarnAfter < 0:
			ps = append(ps, checks.Problem{Field: field("warn_after"), Msg: fmt.Sprintf("warn_after must be positive, got %s", p.WarnAfter)})
		case p.ErrorAfter < 0:
			ps = append(ps, checks.Problem{Field: field("error_after"), Msg: fmt.Sprintf("error_after must be positive, got %s", p.ErrorAfter)})
		case p.WarnAfter > 0 && p.ErrorAfter > 0 && p.WarnAfter > p.ErrorAfter:
			ps = append(ps, checks.Problem{Field: field("warn_after"), Msg: fmt.Sprintf("warn_after (%s) must not be longer than error_after (%s)", checks.HumanDuration(p.WarnAfter), checks.HumanDuration(p.ErrorAfter))})
		}
		if p.MinObjects != nil && *p.MinObjects < 0 {
			ps = append(ps, checks.Problem{Field: field("min_objects"), Msg: fmt.Sprintf("min_objects must not be negative, got %d", *p.MinObjects)})
		}
		if p.MinBytes != nil && *p.MinBytes < 0 {
			ps = append(ps, checks.Problem{Field: field("min_bytes"), Msg: fmt.Sprintf("min_bytes must not be negative, got %d", *p.MinBytes)})
		}
	}
	if s.MaxPages < 0 || s.MaxPages > MaxMaxPages {
		ps = append(ps, checks.Problem{Field: "max_pages", Msg: fmt.Sprintf("max_pages must be between 1 and %d, got %d", MaxMaxPages, s.MaxPages)})
	}
	return ps
}

// Source is what an s3_freshness check reads from: datasource.S3
// satisfies it.
type Source interface {
	Name() string
	Client() *s3.Client
}

// Build makes the check. deps.Buckets must be a Source.
func (s *Spec) Build(deps checks.Deps) (checks.Check, error) {
	src, ok := deps.Buckets.(Source)
	if !ok || src == nil {
		return nil, fmt.Errorf("s3_freshness %s: datasource is not an S3 datasource (got %T)", deps.CheckID, deps.Buckets)
	}
	now := s.now
	if now == nil {
		now = time.Now
	}
	maxPages := s.MaxPages
	if maxPages == 0 {
		maxPages = DefaultMaxPages
	}
	return &check{
		id:       deps.CheckID,
		source:   src.Name(),
		client:   src.Client(),
		bucket:   s.Bucket,
		prefixes: append([]Prefix(nil), s.Prefixes...),
		maxPages: maxPages,
		pageSize: s.pageSize,
		timeout:  deps.Timeout,
		now:      now,
	}, nil
}

// Probe lists one key of the bucket (vigil validate --connect): it reports
// a bucket that does not exist or that the credentials may not list.
func (s *Spec) Probe(ctx context.Context, deps checks.Deps) []checks.Problem {
	built, err := s.Build(deps)
	if err != nil {
		return []checks.Problem{{Msg: err.Error()}}
	}
	c := built.(*check)
	_, err = c.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket), MaxKeys: aws.Int32(1)})
	if err != nil {
		return []checks.Problem{{Field: "bucket", Msg: fmt.Sprintf("bucket %q on datasource %s: %v", c.bucket, c.source, apiError(err))}}
	}
	return nil
}
