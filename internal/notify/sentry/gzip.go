package sentry

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
)

// gzipTransport compresses each request body with gzip before base sends
// it. Sentry accepts a compressed content encoding and applies its 200 KB
// limit to the compressed envelope
// (https://docs.sentry.io/concepts/data-management/size-limits/); sentry-go
// sends envelopes uncompressed unless its HTTPTransport does this.
type gzipTransport struct{ base http.RoundTripper }

// RoundTrip sends a copy of req with a gzip-compressed body; a request
// without a body or already encoded is sent as it is.
func (t gzipTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody || req.Header.Get("Content-Encoding") != "" {
		return t.base.RoundTrip(req)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := io.Copy(zw, req.Body)
	req.Body.Close()
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("sentry: compress envelope: %w", err)
	}
	body := buf.Bytes()
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Encoding", "gzip")
	return t.base.RoundTrip(r)
}
