package s3test_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilhq/vigil/internal/s3test"
)

// ListObjectsV2 pages through a prefix with continuation tokens (S3 API
// reference, ListObjectsV2: IsTruncated, NextContinuationToken), which the
// s3_freshness kind relies on.
func TestPaginatesWithContinuationTokens(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "landing")
	for _, k := range []string{"raw/a", "raw/b", "raw/c", "raw/d", "raw/e", "other/x"} {
		srv.Put(t, "landing", k, 3)
	}
	p := s3.NewListObjectsV2Paginator(srv.Client, &s3.ListObjectsV2Input{Bucket: aws.String("landing"), Prefix: aws.String("raw/"), MaxKeys: aws.Int32(2)})
	var keys []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
			if aws.ToInt64(o.Size) != 3 {
				t.Errorf("%s: size %d, want 3", aws.ToString(o.Key), aws.ToInt64(o.Size))
			}
		}
	}
	if pages != 3 || len(keys) != 5 || keys[0] != "raw/a" || keys[4] != "raw/e" {
		t.Fatalf("%d pages, keys %q; want 3 pages and raw/a..raw/e in order", pages, keys)
	}
}

// A delimiter listing rolls up every key holding the delimiter after the
// prefix into CommonPrefixes, however deep (S3 API reference,
// ListObjectsV2: Delimiter, CommonPrefixes).
func TestCommonPrefixesOfDeepKeys(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "landing")
	for _, k := range []string{"raw/2026/12/03/10/a", "raw/2025/01/01/b", "raw/top.csv", "raw/dt=2026-12-03/c"} {
		srv.Put(t, "landing", k, 1)
	}
	out, err := srv.Client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("landing"), Prefix: aws.String("raw/"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var prefixes, keys []string
	for _, p := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(prefixes, " ") != "raw/2025/ raw/2026/ raw/dt=2026-12-03/" || strings.Join(keys, " ") != "raw/top.csv" {
		t.Fatalf("common prefixes %q, keys %q", prefixes, keys)
	}
}
