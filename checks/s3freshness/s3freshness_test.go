package s3freshness_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/checks/s3freshness"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/s3test"
)

const bucket = "landing"

// run decodes spec as the config loader does, sets the check's clock and
// runs it once against src.
func run(t *testing.T, src *datasource.S3, spec string, now time.Time, adjust ...func(*s3freshness.Spec)) (checks.Result, error) {
	t.Helper()
	s := kindtest.Decode(t, s3freshness.Kind, spec).(*s3freshness.Spec)
	s.SetNow(func() time.Time { return now })
	for _, f := range adjust {
		f(s)
	}
	return kindtest.Run(t, s, checks.Deps{CheckID: "landing", Timeout: 30 * time.Second, Buckets: src})
}

// TestRun drives the rules against a real S3-compatible server (s3rver).
// S3 sets LastModified itself (it cannot be written), so objects land now
// and the check's clock is moved instead.
func TestRun(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, bucket)
	src := datasource.NewS3("lake", srv.Client)

	// Hive-style daily partitions (dt=YYYY-MM-DD/), with a Spark _SUCCESS
	// marker, a staging folder of an unfinished newer write, a folder
	// marker as the S3 console makes it, and a non-date sibling folder.
	srv.Put(t, bucket, "raw/sales/dt=2026-12-01/part-0000.csv", 100)
	srv.Put(t, bucket, "raw/sales/dt=2026-12-01/part-0001.csv", 0) // old: never judged
	srv.Put(t, bucket, "raw/sales/dt=2026-12-02/part-0000.csv", 100)
	srv.Put(t, bucket, "raw/sales/dt=2026-12-02/part-0001.csv", 100)
	srv.Put(t, bucket, "raw/sales/dt=2026-12-03/part-0000.csv", 100)
	srv.Put(t, bucket, "raw/sales/dt=2026-12-03/part-0001.csv", 0)
	srv.Put(t, bucket, "raw/sales/dt=2026-12-03/_SUCCESS", 0)
	srv.Put(t, bucket, "raw/sales/dt=2026-12-04/_temporary/0/part-0000.csv", 100)
	srv.Put(t, bucket, "raw/sales/dt=2026-12-05/", 0)
	srv.Put(t, bucket, "raw/sales/manifests/2026-12-09.json", 10)
	// Kinesis Firehose's YYYY/MM/DD/HH layout, an older year included.
	srv.Put(t, bucket, "raw/clicks/2025/12/31/23/clicks-1", 50)
	srv.Put(t, bucket, "raw/clicks/2026/1/15/08/clicks-2", 50)
	srv.Put(t, bucket, "raw/clicks/2026/02/28/09/clicks-3", 50)
	srv.Put(t, bucket, "raw/clicks/2026/02/28/10/clicks-4", 50)
	srv.Put(t, bucket, "raw/clicks/2026/02/31/10/not-a-day", 50)
	// Hive-style year=/month=/day= partitions.
	srv.Put(t, bucket, "raw/claims/year=2026/month=11/day=30/c.parquet", 10)
	srv.Put(t, bucket, "raw/claims/year=2026/month=12/day=2/c.parquet", 10)
	// No dates: every object under the prefix.
	srv.Put(t, bucket, "raw/rates/archive/rates-old.csv", 10)
	srv.Put(t, bucket, "raw/rates/rates-a.csv", 10)
	srv.Put(t, bucket, "raw/rates/.staging", 0)
	// Only markers.
	srv.Put(t, bucket, "raw/empty/_SUCCESS", 0)
	last := srv.Put(t, bucket, "raw/policies/dt=2026-12-03/part-0000.csv", 10)

	at := func(d time.Duration) time.Time { return last.Add(d) }
	lm := last.UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		name string
		spec string
		now  time.Time
		want kindtest.Want
	}{
		{
			// min_bytes: 0, so only freshness and the count are judged.
			name: "fresh hive partition passes",
			spec: `{bucket: landing, prefixes: [{prefix: raw/sales/, warn_after: 2h, error_after: 6h, min_bytes: 0, min_objects: 2}]}`,
			now:  at(time.Hour),
			want: kindtest.Want{Status: checks.Pass},
		},
		{
			name: "older than warn_after warns, keyed by the prefix",
			spec: `{bucket: landing, prefixes: [{prefix: raw/policies/, warn_after: 2h, error_after: 6h}]}`,
			now:  at(3*time.Hour + 12*time.Minute + 30*time.Second),
			want: kindtest.Want{Status: checks.Warn, Violations: 1, Sample: []checks.Violation{{Key: "raw/policies/",
				Detail: "newest object raw/policies/dt=2026-12-03/part-0000.csv landed " + lm + ", 3h 12m ago (warn after 2h, error after 6h) (1 object in the newest partition dt=2026-12-03/)"}}},
		},
		{
			name: "exactly warn_after is not older than it",
			spec: `{bucket: landing, prefixes: [{prefix: raw/policies/, warn_after: 2h}]}`,
			now:  at(2 * time.Hour),
			want: kindtest.Want{Status: checks.Pass},
		},
		{
			name: "older than error_after fails",
			spec: `{bucket: landing, prefixes: [{prefix: raw/policies/, warn_after: 2h, error_after: 6h}]}`,
			now:  at(26 * time.Hour),
			want: kindtest.Want{Status: checks.Fail, Violations: 1, Sample: []checks.Violation{{Key: "raw/policies/",
				Detail: "newest object raw/policies/dt=2026-12-03/part-0000.csv landed " + lm + ", 1d 2h ago (warn after 2h, error after 6h) (1 object in the newest partition dt=2026-12-03/)"}}},
		},
		{
			name: "a newest object beyond the clock-skew allowance in the future fails",
			spec: `{bucket: landing, prefixes: [{prefix: raw/policies/, warn_after: 2h}]}`,
			now:  at(-10 * time.Minute),
			want: kindtest.Want{Status: checks.Fail, Violations: 1, Sample: []checks.Violation{{Key: "raw/policies/",
				Detail: "newest object raw/policies/dt=2026-12-03/part-0000.csv landed " + lm + ", 10m in the future (beyond the 5m clock-skew allowance): vigil's clock or the storage's is wrong (1 object in the newest partition dt=2026-12-03/)"}}},
		},
		{
			// The newest partition with data is dt=2026-12-03/: dt=2026-12-04/
			// holds only a staging folder and dt=2026-12-05/ only a folder
			// marker. _SUCCESS neither counts nor is too small.
			name: "too few objects in the newest partition, and a zero-byte object in it",
			spec: `{bucket: landing, prefixes: [{prefix: raw/sales/, warn_after: 2h, min_objects: 3}]}`,
			now:  at(time.Minute),
			want: kindtest.Want{Status: checks.Fail, Violations: 2, Sample: []checks.Violation{
				{Key: "raw/sales/", Detail: "2 objects in the newest partition dt=2026-12-03/, want at least 3 (newest object raw/sales/dt=2026-12-03/part-0001.csv landed " + srvTime(t, srv, "raw/sales/dt=2026-12-03/part-0001.csv") + ", " + ago(t, srv, "raw/sales/dt=2026-12-03/part-0001.csv", at(time.Minute)) + " ago)"},
				{Key: "raw/sales/dt=2026-12-03/part-0001.csv", Detail: "0 bytes (min_bytes 1), landed " + srvTime(t, srv, "raw/sales/dt=2026-12-03/part-0001.csv") + " in the newest partition dt=2026-12-03/"},
			}},
		},
		{
			name: "min_bytes 0 turns the size rule off",
			spec: `{bucket: landing, prefixes: [{prefix: raw/sales/, warn_after: 2h, min_bytes: 0}]}`,
			now:  at(time.Minute),
			want: kindtest.Want{Status: checks.Pass},
		},
		{
			name: "YYYY/MM/DD: the newest valid day, its hour folders included",
			spec: `{bucket: landing, prefixes: [{prefix: raw/clicks/, warn_after: 2h, min_objects: 3}]}`,
			now:  at(time.Minute),
			want: kindtest.Want{Status: checks.Fail, Violations: 1, Sample: []checks.Violation{{Key: "raw/clicks/",
				Detail: "2 objects in the newest partition 2026/02/28/, want at least 3 (newest object raw/clicks/2026/02/28/10/clicks-4 landed " + srvTime(t, srv, "raw/clicks/2026/02/28/10/clicks-4") + ", " + ago(t, srv, "raw/clicks/2026/02/28/10/clicks-4", at(time.Minute)) + " ago)"}}},
		},
		{
			name: "year=/month=/day= partitions, unpadded",
			spec: `{bucket: landing, prefixes: [{prefix: raw/claims/, warn_after: 2h, min_objects: 2}]}`,
			now:  at(time.Minute),
			want: kindtest.Want{Status: checks.Fail, Violations: 1, Sample: []checks.Violation{{Key: "raw/claims/",
				Detail: "1 object in the newest partition year=2026/month=12/day=2/, want at least 2 (newest object raw/claims/year=2026/month=12/day=2/c.parquet landed " + srvTime(t, srv, "raw/claims/year=2026/month=12/day=2/c.parquet") + ", " + ago(t, srv, "raw/claims/year=2026/month=12/day=2/c.parquet", at(time.Minute)) + " ago)"}}},
		},
		{
			name: "no date sub-prefix: every data object under the prefix, hidden files skipped",
			spec: `{bucket: landing, prefixes: [{prefix: raw/rates/, warn_after: 2h, min_objects: 3}]}`,
			now:  at(time.Minute),
			want: kindtest.Want{Status: checks.Fail, Violations: 1, Sample: []checks.Violation{{Key: "raw/rates/",
				Detail: "2 objects landed within 1d of the newest, want at least 3 (newest object raw/rates/rates-a.csv landed " + srvTime(t, srv, "raw/rates/rates-a.csv") + ", " + ago(t, srv, "raw/rates/rates-a.csv", at(time.Minute)) + " ago)"}}},
		},
		{
			name: "a prefix with nothing fails",
			spec: `{bucket: landing, prefixes: [{prefix: raw/nothing/, warn_after: 2h}]}`,
			now:  at(time.Minute),
			want: kindtest.Want{Status: checks.Fail, Violations: 1, Sample: []checks.Violation{{Key: "raw/nothing/", Detail: "no data object under the prefix"}}},
		},
		{
			name: "a prefix with only markers fails",
			spec: `{bucket: landing, prefixes: [{prefix: raw/empty/, warn_after: 2h}]}`,
			now:  at(time.Minute),
			want: kindtest.Want{Status: checks.Fail, Violations: 1, Sample: []checks.Violation{{Key: "raw/empty/", Detail: "no data object under the prefix (1 hidden files or folder markers skipped)"}}},
		},
		{
			name: "the status is the worst over the prefixes",
			spec: `{bucket: landing, prefixes: [{prefix: raw/policies/, warn_after: 2h}, {prefix: raw/nothing/, warn_after: 1h}, {prefix: raw/rates/, error_after: 48h}]}`,
			now:  at(3 * time.Hour),
			want: kindtest.Want{Status: checks.Fail, Violations: 2, Sample: []checks.Violation{
				{Key: "raw/nothing/", Detail: "no data object under the prefix"},
				{Key: "raw/policies/", Detail: "newest object raw/policies/dt=2026-12-03/part-0000.csv landed " + lm + ", 3h ago (warn after 2h) (1 object in the newest partition dt=2026-12-03/)"},
			}},
		},
		{
			name: "a missing bucket is an error naming datasource, bucket, prefix and the AWS code",
			spec: `{bucket: no-such-bucket, prefixes: [{prefix: raw/sales/, warn_after: 2h}]}`,
			now:  at(time.Minute),
			want: kindtest.Want{Err: []string{"datasource lake", "bucket no-such-bucket", "prefix raw/sales/", "NoSuchBucket"}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, src, tt.spec, tt.now)
			tt.want.Check(t, res, err)
		})
	}
}

// srvTime is an object's LastModified as the server lists it, in the
// detail's format.
func srvTime(t *testing.T, srv *s3test.Server, key string) string {
	t.Helper()
	return lastModified(t, srv, key).UTC().Format(time.RFC3339)
}

func ago(t *testing.T, srv *s3test.Server, key string, now time.Time) string {
	t.Helper()
	return checks.HumanAge(now.Sub(lastModified(t, srv, key)))
}

func lastModified(t *testing.T, srv *s3test.Server, key string) time.Time {
	t.Helper()
	out, err := srv.Client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: strPtr(bucket), Key: strPtr(key)})
	if err != nil {
		t.Fatalf("head %s: %v", key, err)
	}
	return *out.LastModified
}

func strPtr(s string) *string { return &s }

// The newest partition decides, not the newest object: a backfill into an
// old partition landing after today's files does not make a stalled daily
// extract look fresh.
func TestNewestPartitionNotNewestObject(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, bucket)
	today := srv.Put(t, bucket, "raw/sales/dt=2026-12-03/part-0000.csv", 10)
	var backfill time.Time
	for backfill = srv.Put(t, bucket, "raw/sales/dt=2026-11-01/part-0009.csv", 10); !backfill.After(today); {
		time.Sleep(300 * time.Millisecond) // LastModified has whole seconds
		backfill = srv.Put(t, bucket, "raw/sales/dt=2026-11-01/part-0009.csv", 10)
	}
	res, err := run(t, datasource.NewS3("lake", srv.Client), `{bucket: landing, prefixes: [{prefix: raw/sales/, warn_after: 1h}]}`, today.Add(90*time.Minute))
	kindtest.Want{Status: checks.Warn, Violations: 1, Sample: []checks.Violation{{Key: "raw/sales/",
		Detail: "newest object raw/sales/dt=2026-12-03/part-0000.csv landed " + today.UTC().Format(time.RFC3339) + ", 1h 30m ago (warn after 1h) (1 object in the newest partition dt=2026-12-03/)"}}}.Check(t, res, err)
}

// S3 lists at most 1,000 keys a page (ListObjectsV2 MaxKeys); a prefix
// whose listing needs more pages than max_pages is an error that says so,
// never a verdict on the keys that happened to be read.
func TestPageBound(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, bucket)
	var last time.Time
	// A sub-folder that is not a date: the prefix is read whole.
	srv.Put(t, bucket, "raw/events/archive/e-old", 10)
	for i := range 25 {
		last = srv.Put(t, bucket, "raw/events/e-"+string(rune('a'+i)), 10)
	}
	srv.Put(t, bucket, "raw/daily/dt=2026-12-01/a", 10)
	srv.Put(t, bucket, "raw/daily/dt=2026-12-02/a", 10)
	srv.Put(t, bucket, "raw/daily/dt=2026-12-03/a", 10)
	src := datasource.NewS3("lake", srv.Client)
	pages := func(n int32) func(*s3freshness.Spec) { return func(s *s3freshness.Spec) { s.SetPageSize(n) } }

	t.Run("beyond max_pages is an error", func(t *testing.T) {
		// One page of sub-prefixes, then 26 keys in pages of 10.
		res, err := run(t, src, `{bucket: landing, max_pages: 3, prefixes: [{prefix: raw/events/, warn_after: 1h}]}`, last, pages(10))
		kindtest.Want{Err: []string{"prefix raw/events/", "read max_pages (3) pages and more remain", "newest object may be among the keys not read"}}.Check(t, res, err)
	})
	t.Run("within max_pages every page is read", func(t *testing.T) {
		res, err := run(t, src, `{bucket: landing, max_pages: 4, prefixes: [{prefix: raw/events/, warn_after: 1h, min_objects: 26}]}`, last, pages(10))
		kindtest.Want{Status: checks.Pass}.Check(t, res, err)
	})
	t.Run("a dated prefix reads the partitions' names and the newest one only", func(t *testing.T) {
		// One page of names (3 partitions) and one of the newest
		// partition's objects: 2 pages of 3 keys.
		res, err := run(t, src, `{bucket: landing, max_pages: 2, prefixes: [{prefix: raw/daily/, warn_after: 1h}]}`, last, pages(3))
		kindtest.Want{Status: checks.Pass}.Check(t, res, err)
	})
}

// requests records the S3 requests a client sends.
type requests struct {
	mu   sync.Mutex
	seen []*http.Request
	next http.Client
}

func (r *requests) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req)
	r.mu.Unlock()
	return r.next.Do(req)
}

// The check only lists: every request it sends is a ListObjectsV2 (GET on
// the bucket with list-type=2, path-style on a custom endpoint), never a
// GetObject or HeadObject, so it never downloads what it watches.
func TestOnlyLists(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, bucket)
	last := srv.Put(t, bucket, "raw/sales/dt=2026-12-03/part-0000.csv", 0)
	srv.Put(t, bucket, "raw/rates/r.csv", 10)
	rec := &requests{}
	src, err := datasource.OpenS3(context.Background(), "lake", s3test.Region, srv.Endpoint, nil, func(o *s3.Options) { o.HTTPClient = rec })
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(t, src, `{bucket: landing, prefixes: [{prefix: raw/sales/, warn_after: 1h}, {prefix: raw/rates/, warn_after: 1h}]}`, last)
	if err != nil || res.Status != checks.Fail {
		t.Fatalf("run: %v, %+v; want a fail for the zero-byte object", err, res)
	}
	if len(rec.seen) == 0 {
		t.Fatal("no request recorded")
	}
	for _, r := range rec.seen {
		if r.Method != http.MethodGet || r.URL.Path != "/landing" || r.URL.Query().Get("list-type") != "2" {
			t.Errorf("request %s %s is not a path-style ListObjectsV2", r.Method, r.URL)
		}
	}
}

// An unreachable endpoint is an error (the check could not run), naming
// the datasource.
func TestUnreachable(t *testing.T) {
	srv := s3test.Start(t) // for the credentials in the environment
	_ = srv
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	src, err := datasource.OpenS3(context.Background(), "lake", s3test.Region, endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := run(t, src, `{bucket: landing, prefixes: [{prefix: raw/, warn_after: 1h}]}`, time.Now())
	kindtest.Want{Err: []string{"datasource lake", "bucket landing", "prefix raw/", "connect"}}.Check(t, res, err)
	if err != nil && strings.Contains(err.Error(), "S3RVER") {
		t.Errorf("error %q shows the access key", err)
	}
}
