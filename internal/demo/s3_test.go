package demo

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/s3test"
)

// listing is what a paged ListObjectsV2 returns, pages joined.
type listing struct {
	Keys, Prefixes []string
	Pages          int
}

func listAll(t *testing.T, c *s3.Client, bucket, prefix, delimiter string, maxKeys int32) listing {
	t.Helper()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(maxKeys)}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	var out listing
	p := s3.NewListObjectsV2Paginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s %q %q: %v", bucket, prefix, delimiter, err)
		}
		out.Pages++
		for _, o := range page.Contents {
			out.Keys = append(out.Keys, aws.ToString(o.Key))
		}
		for _, cp := range page.CommonPrefixes {
			out.Prefixes = append(out.Prefixes, aws.ToString(cp.Prefix))
		}
	}
	return out
}

// The demo's S3 fake lists as a real S3-compatible server does: the same
// keys and common prefixes as s3rver for the same objects, through the SDK's
// paginator, and S3's paging rules for delimiter listings (MaxKeys counts
// keys and common prefixes alike; a common prefix is never repeated on a
// later page).
func TestFakeS3ListsLikeS3rver(t *testing.T) {
	srv := s3test.Start(t)
	fake, err := StartFakeS3()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	keys := []string{
		"raw/sales/dt=2026-12-01/part-0", "raw/sales/dt=2026-12-01/part-1", "raw/sales/dt=2026-12-02/part-0",
		"raw/sales/dt=2026-12-02/_SUCCESS", "raw/sales/top.csv", "raw/sales/x/y/z", "raw/clicks/2026/12/03/10/c",
		"raw/clicks/2026/12/03/11/c", "raw/salesforce/a", "other/b",
	}
	srv.CreateBucket(t, "landing")
	fake.CreateBucket("landing")
	for _, k := range keys {
		srv.Put(t, "landing", k, 5)
		fake.Put("landing", FakeObject{Key: k, Size: 5, LastModified: time.Now()})
	}
	for _, tt := range []struct{ prefix, delimiter string }{
		{"raw/sales/", ""}, {"raw/sales/", "/"}, {"raw/", "/"}, {"raw/clicks/2026/", "/"}, {"raw/sales", ""}, {"", "/"}, {"nothing/", "/"},
	} {
		real := listAll(t, srv.Client, "landing", tt.prefix, tt.delimiter, 1000)
		got := listAll(t, fake.Client(), "landing", tt.prefix, tt.delimiter, 1000)
		real.Pages, got.Pages = 0, 0
		if !reflect.DeepEqual(got, real) {
			t.Errorf("prefix %q delimiter %q:\nfake   %+v\ns3rver %+v", tt.prefix, tt.delimiter, got, real)
		}
	}
	// Small pages: the same entries, split over pages of two.
	paged := listAll(t, fake.Client(), "landing", "raw/sales/", "/", 2)
	if want := (listing{Keys: []string{"raw/sales/top.csv"}, Prefixes: []string{"raw/sales/dt=2026-12-01/", "raw/sales/dt=2026-12-02/", "raw/sales/x/"}, Pages: 2}); !reflect.DeepEqual(paged, want) {
		t.Errorf("paged delimiter listing %+v, want %+v", paged, want)
	}
	if l := listAll(t, fake.Client(), "landing", "raw/", "", 3); l.Pages != 3 || len(l.Keys) != 9 {
		t.Errorf("paged listing %+v, want 9 keys over 3 pages", l)
	}
	if _, err := fake.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("missing")}); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("listing a missing bucket: %v, want NoSuchBucket", err)
	}
	if _, err := fake.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("landing"), Key: aws.String("other/b")}); err == nil || !strings.Contains(err.Error(), "NotImplemented") {
		t.Errorf("GetObject on the fake: %v, want NotImplemented", err)
	}
}

// The stale-warehouse scenario stops the policies extract: the
// landing-freshness check, configured as the sandbox configures it, fails
// on raw/policies/ within one run and passes again once cleared; files keep
// landing under the other prefix.
func TestStaleWarehouseStallsTheLandingZone(t *testing.T) {
	sb := startSandbox(t)
	ctx := t.Context()
	cfg, err := config.Load(sb.ConfigPath(), allKinds())
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cfg.Check("landing-freshness")
	if !ok {
		t.Fatal("no landing-freshness check in the sandbox")
	}
	chk, err := c.Spec.Build(checks.Deps{CheckID: c.ID, Timeout: c.Timeout, Buckets: sb.Buckets()[LandingSource]})
	if err != nil {
		t.Fatal(err)
	}
	run := func() checks.Result {
		t.Helper()
		res, err := chk.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := run(); res.Status != checks.Pass {
		t.Fatalf("healthy landing zone: %+v", res)
	}
	if err := sb.Inject(ctx, ScenarioStaleWarehouse); err != nil {
		t.Fatal(err)
	}
	res := run()
	if res.Status != checks.Fail || res.Violations != 1 || res.Sample[0].Key != StalledPrefix || !strings.Contains(res.Sample[0].Detail, "error after 6h") {
		t.Fatalf("stalled landing zone: %+v", res)
	}
	t.Logf("detail: %s", res.Sample[0].Detail)
	if err := sb.Clear(ctx, ScenarioStaleWarehouse); err != nil {
		t.Fatal(err)
	}
	if res := run(); res.Status != checks.Pass {
		t.Fatalf("cleared landing zone: %+v", res)
	}
}

// The extracts keep landing files every LandEvery, except under
// raw/policies/ while stale-warehouse is injected.
func TestLandingLoop(t *testing.T) {
	sb, err := Start(t.Context(), SandboxOptions{
		Dir: t.TempDir(), Listen: "127.0.0.1:0", Policies: 100, TrafficEvery: 10 * time.Millisecond, LandEvery: 30 * time.Millisecond,
		HashPassword: func(p string) (string, error) { return "x" + p, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	newest := func(prefix string) time.Time {
		var at time.Time
		p := s3.NewListObjectsV2Paginator(sb.S3().Client(), &s3.ListObjectsV2Input{Bucket: aws.String(LandingBucket), Prefix: aws.String(prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatalf("list %s: %v", prefix, err)
			}
			for _, o := range page.Contents {
				if o.LastModified.After(at) {
					at = *o.LastModified
				}
			}
		}
		return at
	}
	if err := sb.Inject(t.Context(), ScenarioStaleWarehouse); err != nil {
		t.Fatal(err)
	}
	injected := time.Now()
	eventually(t, "files to land under raw/claims/", func() bool { return newest("raw/claims/").After(injected) })
	if at := newest(StalledPrefix); at.After(injected.Add(-heldBack)) {
		t.Fatalf("a file landed under %s at %s while the extract is stalled", StalledPrefix, at)
	}
	if err := sb.Clear(t.Context(), ScenarioStaleWarehouse); err != nil {
		t.Fatal(err)
	}
	cleared := time.Now()
	eventually(t, "files to land under raw/policies/ again", func() bool { return newest(StalledPrefix).After(cleared.Add(-time.Second)) })
}
