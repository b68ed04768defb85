package slack_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/store"
)

// recordingOutbox is the real store, recording the ids of each
// MarkDeliveredAll call.
type recordingOutbox struct {
	*store.Store
	mu    sync.Mutex
	calls [][]int64
}

func (r *recordingOutbox) MarkDeliveredAll(ctx context.Context, ids []int64, at time.Time) error {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(ids))
	r.mu.Unlock()
	return r.Store.MarkDeliveredAll(ctx, ids, at)
}

func TestMarksAPostsMessagesInOneCall(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		opened      int
		wantCalls   int // MarkDeliveredAll calls
		wantLargest int // ids in the largest call
	}{
		{name: "a grouped burst is marked in one call", opened: 7, wantCalls: 1, wantLargest: 7},
		{name: "alerts sent one by one are marked one by one", opened: 5, wantCalls: 5, wantLargest: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSlack(t, nil)
			box := &recordingOutbox{Store: openStore(t, filepath.Join(t.TempDir(), "vigil.db"))}
			var ids []int64
			for i := range tt.opened {
				ids = append(ids, enqueue(t, box.Store, fmt.Sprintf("burst-%d", i), store.OutboxOpened, int64(i+1), now.Add(time.Duration(i)*time.Second)))
			}
			w, err := slack.NewWorker(box, slack.Options{WebhookURL: f.url(), Now: func() time.Time { return now.Add(time.Minute) }})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.DeliverDue(context.Background()); err != nil {
				t.Fatalf("DeliverDue: %v", err)
			}
			largest := 0
			var marked []int64
			for _, c := range box.calls {
				largest = max(largest, len(c))
				marked = append(marked, c...)
			}
			if len(box.calls) != tt.wantCalls || largest != tt.wantLargest {
				t.Errorf("MarkDeliveredAll calls %v, want %d calls, the largest with %d ids", box.calls, tt.wantCalls, tt.wantLargest)
			}
			slices.Sort(marked)
			if !slices.Equal(marked, ids) {
				t.Errorf("marked ids %v, want %v", marked, ids)
			}
			for _, id := range ids {
				m, err := box.OutboxMessage(context.Background(), id)
				if err != nil {
					t.Fatalf("OutboxMessage: %v", err)
				}
				if !m.DeliveredAt.Equal(now.Add(time.Minute)) {
					t.Errorf("message %d delivered at %v, want %v", id, m.DeliveredAt, now.Add(time.Minute))
				}
			}
		})
	}
}
