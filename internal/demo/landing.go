package demo

import (
	"hash/fnv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/datasource"
)

// The sandbox's landing zone: the nightly extracts land files under these
// prefixes of LandingBucket (in the in-process S3 fake) before the warehouse
// loads them, and the landing-freshness check watches them.
const (
	LandingBucket  = "acme-landing"
	LandingSource  = "landing" // the config's s3 datasource
	StalledPrefix  = "raw/policies/"
	landingHistory = 72 * time.Hour
	// heldBack is how far back stale-warehouse removes what landed under
	// StalledPrefix: the extract stopped that long ago.
	heldBack = 12 * time.Hour
)

// landingPrefixes are the prefixes files land under, one part file per
// landing.
var landingPrefixes = []string{StalledPrefix, "raw/claims/"}

// landingKey names a part file landed at t: Hive-style daily partitions.
func landingKey(prefix string, t time.Time) string {
	t = t.UTC()
	return prefix + "dt=" + t.Format(time.DateOnly) + "/part-" + t.Format("150405") + ".json.gz"
}

// partSize is a realistic, repeatable size for a part file.
func partSize(key string) int64 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return 20_000 + int64(h.Sum32()%60_000)
}

// seedLanding fills the landing zone with what three days of hourly
// extracts left: a part file per hour and a _SUCCESS marker per finished
// day, the newest part minutes old.
func (s *Sandbox) seedLanding(now time.Time) {
	s.s3.CreateBucket(LandingBucket)
	start := now.Add(-landingHistory).Truncate(time.Hour)
	for _, p := range landingPrefixes {
		for h := start; !h.After(now); h = h.Add(time.Hour) {
			at := h.Add(7 * time.Minute)
			if at.After(now) {
				break
			}
			s.putPart(p, at)
			if h.UTC().Hour() == 23 {
				s.s3.Put(LandingBucket, FakeObject{Key: p + "dt=" + h.UTC().Format(time.DateOnly) + "/_SUCCESS", LastModified: at.Add(time.Minute)})
			}
		}
	}
	s.landedAt = now
}

func (s *Sandbox) putPart(prefix string, at time.Time) {
	key := landingKey(prefix, at)
	s.s3.Put(LandingBucket, FakeObject{Key: key, Size: partSize(key), LastModified: at})
}

// land plays the extracts: every LandEvery a part file lands under each
// prefix, except under StalledPrefix while stale-warehouse is injected.
// Files older than three days are removed (the bucket's lifecycle rule).
func (s *Sandbox) land(now time.Time, stalled bool) {
	s.mu.Lock()
	due := now.Sub(s.landedAt) >= s.opts.LandEvery
	if due {
		s.landedAt = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	for _, p := range landingPrefixes {
		if !(stalled && p == StalledPrefix) {
			s.putPart(p, now)
		}
	}
	s.s3.Delete(LandingBucket, func(o FakeObject) bool { return o.LastModified.Before(now.Add(-landingHistory)) })
}

// stallLanding removes what landed under StalledPrefix in the last
// heldBack, as if the extract had stopped then; resumeLanding lands it
// again now (the extract caught up).
func (s *Sandbox) stallLanding(now time.Time) {
	held := s.s3.Delete(LandingBucket, func(o FakeObject) bool {
		return strings.HasPrefix(o.Key, StalledPrefix) && o.LastModified.After(now.Add(-heldBack))
	})
	s.mu.Lock()
	s.held = append(s.held, held...)
	s.mu.Unlock()
}

func (s *Sandbox) resumeLanding(now time.Time) {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	for _, o := range held {
		o.LastModified = now.Add(-5 * time.Minute)
		s.s3.Put(LandingBucket, o)
	}
}

// S3 is the in-process S3 fake.
func (s *Sandbox) S3() *FakeS3 { return s.s3 }

// Buckets returns the S3 datasources to use instead of opening the
// config's (by datasource name): a client of the fake with static demo
// credentials that dials loopback only.
func (s *Sandbox) Buckets() map[string]*datasource.S3 {
	return map[string]*datasource.S3{LandingSource: datasource.NewS3(LandingSource, s.s3.Client())}
}
