// Package s3test starts a real S3-compatible server for tests: the npm
// package s3rver (3.7.1) on the machine's Node, listening on a free
// loopback port with its objects in a temporary folder, stopped when the
// test ends (see internal/nodetest: it is skipped without node or the
// package, and fails under CI=true).
package s3test

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/nodetest"
)

// Version is the s3rver release the harness expects.
const Version = "3.7.1"

// Region is the region clients use.
const Region = "us-east-1"

// Server is a running s3rver.
type Server struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:40123.
	Endpoint string
	// Client talks to the server path-style with s3rver's credentials, as
	// datasource.OpenS3 makes it.
	Client *s3.Client
}

// startScript starts s3rver on port 0 with its objects in
// VIGIL_S3RVER_DIR, prints the chosen port as one JSON line, and exits when
// its stdin closes.
//
// s3rver 3.7.1 rolls up into CommonPrefixes only the keys one level below
// the prefix: a delimiter listing of "raw/" misses "raw/2026/" when every
// key under it is deeper (raw/2026/12/03/x). S3 rolls up every key that
// holds the delimiter after the prefix (ListObjectsV2, Delimiter), so the
// script lists such requests without the delimiter and rolls the keys up
// as S3 does, returning them in one page.
const startScript = `
const S3rver = require(process.env.VIGIL_NODE_MODULE);
const FilesystemStore = require(process.env.VIGIL_NODE_MODULE + "/lib/stores/filesystem");
const list = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function (bucket, options) {
  if (!options.delimiter) return list.call(this, bucket, options);
  const all = await list.call(this, bucket, { ...options, delimiter: undefined, maxKeys: Infinity });
  const prefix = options.prefix || "";
  const objects = [], prefixes = new Set();
  for (const o of all.objects) {
    const i = o.key.indexOf(options.delimiter, prefix.length);
    if (i === -1) objects.push(o);
    else prefixes.add(o.key.slice(0, i + options.delimiter.length));
  }
  return { objects, commonPrefixes: [...prefixes].sort(), isTruncated: false };
};
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: process.env.VIGIL_S3RVER_DIR });
server.run()
  .then((addr) => {
    process.stdout.write(JSON.stringify({ port: addr.port }) + "\n");
    process.stdin.on("end", () => { server.close().finally(() => process.exit(0)); });
    process.stdin.resume();
  })
  .catch((err) => { console.error(err); process.exit(1); });
`

// Start starts a fresh, empty server for the test and stops it at cleanup.
// It sets s3rver's credentials and the region in the environment
// (tb.Setenv), so that datasource.OpenS3 finds them through the AWS default
// chain; tests that use it cannot run in parallel.
func Start(tb testing.TB) *Server {
	tb.Helper()
	// s3rver checks SigV4 signatures made with this key pair.
	nodetest.AWSEnvironment(tb, "S3RVER", "S3RVER", Region)

	port := nodetest.Start(tb, nodetest.Server{
		Package: "s3rver", Version: Version, Script: startScript,
		Env: []string{"VIGIL_S3RVER_DIR=" + tb.TempDir()},
		// s3rver encrypts ListObjectsV2 continuation tokens with DES,
		// which OpenSSL 3 keeps in its legacy provider.
		NodeFlags: []string{"--openssl-legacy-provider"},
	})
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	ds, err := datasource.OpenS3(context.Background(), "s3test", Region, endpoint, nil)
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	return &Server{Endpoint: endpoint, Client: ds.Client()}
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(tb testing.TB, bucket string) {
	tb.Helper()
	if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		tb.Fatalf("s3test: create bucket %s: %v", bucket, err)
	}
}

// Put writes an object of size bytes and returns its LastModified as the
// server lists it.
func (s *Server) Put(tb testing.TB, bucket, key string, size int) time.Time {
	tb.Helper()
	ctx := context.Background()
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(bytes.Repeat([]byte("x"), size)),
	})
	if err != nil {
		tb.Fatalf("s3test: put %s/%s: %v", bucket, key, err)
	}
	out, err := s.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(key), MaxKeys: aws.Int32(1)})
	if err != nil || len(out.Contents) == 0 || aws.ToString(out.Contents[0].Key) != key {
		tb.Fatalf("s3test: %s/%s is not listed after put: %v", bucket, key, err)
	}
	return aws.ToTime(out.Contents[0].LastModified)
}
