package demo

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// FakeS3 is the sandbox's S3-compatible endpoint. It is for the demo only:
// an in-process server on a loopback port that answers path-style
// ListObjectsV2 (GET /<bucket>?list-type=2 with prefix, delimiter,
// max-keys, start-after and continuation-token), the one call the
// s3_freshness kind makes, and NotImplemented to anything else. The sandbox
// lands and removes objects through Put and Delete, with the LastModified
// it chooses. Every response carries "X-Vigil-Demo: in-process S3 fake".
// Its methods are safe for concurrent use.
type FakeS3 struct {
	*loopbackServer

	mu      sync.Mutex
	buckets map[string]map[string]FakeObject // bucket -> key -> object
}

// FakeObject is one object the fake holds (no content: only its size).
type FakeObject struct {
	Key          string
	Size         int64
	LastModified time.Time
}

// StartFakeS3 listens on 127.0.0.1:0 and serves until Close.
func StartFakeS3() (*FakeS3, error) {
	f := &FakeS3{buckets: map[string]map[string]FakeObject{}}
	srv, err := startLoopback("fake s3", f)
	if err != nil {
		return nil, err
	}
	f.loopbackServer = srv
	return f, nil
}

// Client returns an S3 client for the fake: path-style, static dummy
// credentials (so the SDK never looks for real ones) and an HTTP client
// that dials loopback addresses only.
func (f *FakeS3) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       FakeRegion,
		BaseEndpoint: aws.String(f.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("demo", "demo", ""),
		HTTPClient:   LoopbackClient(10 * time.Second),
	})
}

// CreateBucket makes an empty bucket (a no-op when it exists).
func (f *FakeS3) CreateBucket(bucket string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.buckets[bucket] == nil {
		f.buckets[bucket] = map[string]FakeObject{}
	}
}

// Put lands an object (replacing one with the same key) in an existing
// bucket.
func (f *FakeS3) Put(bucket string, o FakeObject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.buckets[bucket]; b != nil {
		b[o.Key] = o
	}
}

// Delete removes the objects of bucket for which drop is true and returns
// them.
func (f *FakeS3) Delete(bucket string, drop func(FakeObject) bool) []FakeObject {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []FakeObject
	for k, o := range f.buckets[bucket] {
		if drop(o) {
			out = append(out, o)
			delete(f.buckets[bucket], k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// listResult is ListObjectsV2's response document.
type listResult struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	KeyCount              int            `xml:"KeyCount"`
	IsTruncated           bool           `xml:"IsTruncated"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	Contents              []listObject   `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

type listObject struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// s3Error is S3's error document.
type s3Error struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

// ServeHTTP answers ListObjectsV2 and refuses anything else.
func (f *FakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Vigil-Demo", "in-process S3 fake")
	bucket := strings.Trim(r.URL.Path, "/")
	q := r.URL.Query()
	if r.Method != http.MethodGet || bucket == "" || strings.Contains(bucket, "/") || q.Get("list-type") != "2" {
		writeS3Error(w, http.StatusNotImplemented, "NotImplemented", "the demo's S3 fake answers ListObjectsV2 only")
		return
	}
	res, status, err := f.list(bucket, q)
	if err != nil {
		writeS3Error(w, status, err.Code, err.Message)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(res)
}

func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(s3Error{Code: code, Message: msg})
}

// list is ListObjectsV2: keys in byte order after start-after (or the
// continuation token), those holding the delimiter after the prefix rolled
// up into common prefixes, both counted against max-keys (default 1,000).
func (f *FakeS3) list(bucket string, q map[string][]string) (listResult, int, *s3Error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	prefix, delim := get("prefix"), get("delimiter")
	maxKeys := 1000
	if v := get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return listResult{}, http.StatusBadRequest, &s3Error{Code: "InvalidArgument", Message: "max-keys must be a non-negative integer"}
		}
		maxKeys = min(n, 1000)
	}
	after := get("start-after")
	token := get("continuation-token")
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return listResult{}, http.StatusBadRequest, &s3Error{Code: "InvalidArgument", Message: "The continuation token provided is incorrect"}
		}
		after = string(raw)
	}

	f.mu.Lock()
	objs, ok := f.buckets[bucket]
	if !ok {
		f.mu.Unlock()
		return listResult{}, http.StatusNotFound, &s3Error{Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
	}
	keys := make([]string, 0, len(objs))
	for k := range objs {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := listResult{Name: bucket, Prefix: prefix, Delimiter: delim, MaxKeys: maxKeys, ContinuationToken: token}
	if token == "" {
		res.StartAfter = get("start-after")
	}
	last := ""
	for _, k := range keys {
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if cp == last || strings.HasPrefix(after, cp) {
					continue // rolled up already (on this page or an earlier one)
				}
				if res.KeyCount == maxKeys {
					res.IsTruncated = true
					break
				}
				res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: cp})
				res.KeyCount++
				last = cp
				continue
			}
		}
		if res.KeyCount == maxKeys {
			res.IsTruncated = true
			break
		}
		o := objs[k]
		res.Contents = append(res.Contents, listObject{Key: k, LastModified: o.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag: `"` + strconv.FormatInt(o.Size, 16) + `"`, Size: o.Size, StorageClass: "STANDARD"})
		res.KeyCount++
		last = k
	}
	f.mu.Unlock()
	if res.IsTruncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
	}
	return res, http.StatusOK, nil
}
