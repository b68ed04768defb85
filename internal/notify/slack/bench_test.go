package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/notify/slack"
)

// BenchmarkDrainAfter429Storm queues 1,000 alerts (100 checks, 10 each),
// lets Slack answer every post with 429 Retry-After: 1 for a second, then
// recovers; it reports how long the outbox took to drain after recovery and
// how many messages were delivered and duplicated.
func BenchmarkDrainAfter429Storm(b *testing.B) {
	const checksN, perCheck = 100, 10
	var drain time.Duration
	var delivered, duplicated, posts429 int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var mu sync.Mutex
		recovered := time.Time{}
		storm := time.Now().Add(time.Second)
		f := newFakeSlack(b, func(int, slack.Payload) (int, string, bool) {
			mu.Lock()
			defer mu.Unlock()
			if time.Now().Before(storm) {
				posts429++
				return http.StatusTooManyRequests, "1", false
			}
			if recovered.IsZero() {
				recovered = time.Now()
			}
			return http.StatusOK, "", false
		})
		st := openStore(b, filepath.Join(b.TempDir(), "vigil.db"))
		ids := make([]string, checksN)
		for c := range ids {
			ids[c] = fmt.Sprintf("check-%03d", c)
		}
		queue(b, st, ids, perCheck, time.Now())
		w, err := slack.NewWorker(st, slack.Options{WebhookURL: f.url(), GroupAbove: -1, PollInterval: 10 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()
		for {
			n, err := st.OutboxBacklog(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		end := time.Now()
		cancel()
		<-done
		b.StopTimer()
		mu.Lock()
		drain += end.Sub(storm)
		mu.Unlock()
		seen := map[string]int{}
		for _, p := range f.delivered() {
			seen[p.Text]++
		}
		delivered += len(seen)
		for _, n := range seen {
			duplicated += n - 1
		}
	}
	b.ReportMetric(float64(drain.Milliseconds())/float64(b.N), "ms-drain-after-recovery")
	b.ReportMetric(100*float64(delivered)/float64(b.N*checksN*perCheck), "%delivered")
	b.ReportMetric(float64(duplicated)/float64(b.N), "duplicates")
	b.ReportMetric(float64(posts429)/float64(b.N), "posts-during-storm")
}
