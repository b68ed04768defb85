package datasource

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Driver is the driver name of an S3 datasource.
const S3Driver = "s3"

// S3 is an S3 datasource: a client for one region (and, optionally, one
// endpoint), under the datasource's configured name.
type S3 struct {
	name   string
	client *s3.Client
}

// OpenS3 makes an S3 client for the named datasource. Credentials come from
// the standard AWS chain (environment, shared files, web identity, instance
// role); region is required. endpoint, when not empty, replaces the
// regional endpoint (an S3-compatible server such as MinIO, a VPC
// endpoint) and switches to path-style addressing
// (endpoint/bucket/key), which every S3-compatible server understands.
// optFns adjust the client. It does not connect: an unreachable endpoint
// shows up when a check runs.
func OpenS3(ctx context.Context, name, region, endpoint string, logger *slog.Logger, optFns ...func(*s3.Options)) (*S3, error) {
	cfg, err := awsConfig(ctx, "s3", name, region, logger)
	if err != nil {
		return nil, err
	}
	opts := make([]func(*s3.Options), 0, len(optFns)+1)
	if endpoint != "" {
		opts = append(opts, func(o *s3.Options) {
			o.BaseEndpoint = &endpoint
			o.UsePathStyle = true
		})
	}
	opts = append(opts, optFns...)
	return &S3{name: name, client: s3.NewFromConfig(cfg, opts...)}, nil
}

// NewS3 wraps an existing client as a datasource (the demo's in-process
// server, tests).
func NewS3(name string, client *s3.Client) *S3 {
	return &S3{name: name, client: client}
}

// Name is the datasource's configured name.
func (s *S3) Name() string { return s.name }

// Client is the S3 client; it is safe for concurrent use.
func (s *S3) Client() *s3.Client { return s.client }
