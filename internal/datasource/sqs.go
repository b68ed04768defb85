package datasource

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/logging"
)

// SQSDriver is the driver name of an SQS datasource.
const SQSDriver = "sqs"

// SQS is an SQS datasource: a client for one region (and, optionally, one
// endpoint), under the datasource's configured name.
type SQS struct {
	name   string
	client *sqs.Client
}

// OpenSQS makes an SQS client for the named datasource. Credentials come
// from the standard AWS chain (environment, shared files, web identity,
// instance role); region is required, and endpoint, when not empty,
// replaces the regional endpoint (a local SQS-compatible server, a VPC
// endpoint). Throttling and transient network errors are retried by the
// SDK's standard retryer. The SDK's own log lines (such as "falling back
// to IMDSv1") go to logger with the datasource's name, never to stderr;
// a nil logger drops them. optFns adjust the client (tests count calls).
// It does not connect: an unreachable endpoint shows up when a check runs.
func OpenSQS(ctx context.Context, name, region, endpoint string, logger *slog.Logger, optFns ...func(*sqs.Options)) (*SQS, error) {
	cfg, err := awsConfig(ctx, "sqs", name, region, logger)
	if err != nil {
		return nil, err
	}
	opts := make([]func(*sqs.Options), 0, len(optFns)+1)
	if endpoint != "" {
		opts = append(opts, func(o *sqs.Options) { o.BaseEndpoint = &endpoint })
	}
	opts = append(opts, optFns...)
	return &SQS{name: name, client: sqs.NewFromConfig(cfg, opts...)}, nil
}

// awsConfig loads the AWS default configuration (credentials from the
// default chain) for a datasource of the service svc in region; the SDK's
// own log lines go to logger (discarded when nil).
func awsConfig(ctx context.Context, svc, name, region string, logger *slog.Logger) (aws.Config, error) {
	if region == "" {
		return aws.Config{}, fmt.Errorf("datasource %s: %s needs a region", name, svc)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sdkLog := sdkLogger{log: logger.With("datasource", name, "from", "aws-sdk")}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region), config.WithLogger(sdkLog))
	if err != nil {
		return aws.Config{}, fmt.Errorf("datasource %s: load aws config: %w", name, Redact(err))
	}
	return cfg, nil
}

// sdkLogger passes the AWS SDK's log lines to vigil's logger: its warnings
// as warnings, anything else as debug.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, RedactString(fmt.Sprintf(format, v...)))
}

// NewSQS wraps an existing client as a datasource (the demo's in-process
// server, tests).
func NewSQS(name string, client *sqs.Client) *SQS {
	return &SQS{name: name, client: client}
}

// Name is the datasource's configured name.
func (s *SQS) Name() string { return s.name }

// Client is the SQS client; it is safe for concurrent use.
func (s *SQS) Client() *sqs.Client { return s.client }
