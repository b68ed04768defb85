package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

// testOutboxMarkAll: MarkDeliveredAll marks every message or none.
func testOutboxMarkAll(t *testing.T, open func(t *testing.T) *store.Store) {
	s := open(t)
	ctx := context.Background()
	at := base.Add(time.Hour)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	const unknown = int64(1 << 40)

	tests := []struct {
		name string
		// ids picks the ids to mark among three fresh undelivered messages
		// and one message delivered at base.
		ids         func(fresh []int64, delivered int64) []int64
		ctx         context.Context
		at          time.Time
		wantErr     error // nil: success; errAny: any error
		wantMarked  []int // indexes into fresh marked delivered at `at`
		wantSkipped bool  // the delivered message keeps its first delivery
	}{
		{name: "every message", ids: func(f []int64, _ int64) []int64 { return f }, ctx: ctx, at: at, wantMarked: []int{0, 1, 2}},
		{name: "a delivered one is left as it is", ids: func(f []int64, d int64) []int64 { return []int64{f[0], d, f[2]} },
			ctx: ctx, at: at, wantMarked: []int{0, 2}},
		{name: "a repeated id counts once", ids: func(f []int64, _ int64) []int64 { return []int64{f[1], f[1], f[0], f[1]} },
			ctx: ctx, at: at, wantMarked: []int{0, 1}},
		{name: "no ids", ids: func([]int64, int64) []int64 { return nil }, ctx: ctx, at: at},
		{name: "an unknown id marks none", ids: func(f []int64, _ int64) []int64 { return append(f, unknown) },
			ctx: ctx, at: at, wantErr: store.ErrNotFound},
		{name: "a canceled context marks none", ids: func(f []int64, _ int64) []int64 { return f }, ctx: canceled, at: at, wantErr: errAny},
		{name: "a zero time marks none", ids: func(f []int64, _ int64) []int64 { return f }, ctx: ctx, wantErr: store.ErrInvalid},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fresh := make([]int64, 3)
			for j := range fresh {
				fresh[j] = enqueue(t, s, fmt.Sprintf("all-%d-%d", i, j), store.OutboxOpened, base)
			}
			delivered := enqueue(t, s, fmt.Sprintf("all-%d-done", i), store.OutboxOpened, base)
			if err := s.MarkDelivered(ctx, delivered, base); err != nil {
				t.Fatalf("MarkDelivered: %v", err)
			}

			err := s.MarkDeliveredAll(tt.ctx, tt.ids(fresh, delivered), tt.at)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("MarkDeliveredAll = %v, want nil", err)
			case tt.wantErr == errAny && err == nil:
				t.Fatalf("MarkDeliveredAll = nil, want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("MarkDeliveredAll = %v, want %v", err, tt.wantErr)
			}
			for j, id := range fresh {
				got := outboxMessage(t, s, id)
				want := store.OutboxMessage{}
				if slices.Contains(tt.wantMarked, j) {
					want.Attempts, want.DeliveredAt = 1, at
				}
				if got.Attempts != want.Attempts || !got.DeliveredAt.Equal(want.DeliveredAt) {
					t.Errorf("message %d: %d attempts, delivered at %v; want %d, %v", j, got.Attempts, got.DeliveredAt, want.Attempts, want.DeliveredAt)
				}
			}
			if got := outboxMessage(t, s, delivered); got.Attempts != 1 || !got.DeliveredAt.Equal(base) {
				t.Errorf("delivered message: %d attempts, delivered at %v; want 1, %v", got.Attempts, got.DeliveredAt, base)
			}
		})
	}

	t.Run("many ids in one transaction", func(t *testing.T) {
		s := open(t)
		var ids []int64
		err := s.WithTx(ctx, func(tx *store.Tx) error {
			for i := range 1200 { // more than one UPDATE's worth of ids
				id, err := tx.EnqueueOutbox(ctx, store.OutboxMessage{CheckID: fmt.Sprintf("many-%d", i), Kind: store.OutboxOpened,
					Payload: json.RawMessage(`{}`), CreatedAt: base})
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		// The unknown id sorts last, so the earlier ids are updated before
		// it is found: their updates must be rolled back too.
		if err := s.MarkDeliveredAll(ctx, append(ids[:len(ids):len(ids)], unknown), at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("MarkDeliveredAll with an unknown id = %v, want ErrNotFound", err)
		}
		if n := backlog(t, s); n != len(ids) {
			t.Errorf("backlog after a failed MarkDeliveredAll = %d, want %d (none marked)", n, len(ids))
		}
		if err := s.MarkDeliveredAll(ctx, ids, at); err != nil {
			t.Fatalf("MarkDeliveredAll: %v", err)
		}
		if n := backlog(t, s); n != 0 {
			t.Errorf("backlog after MarkDeliveredAll = %d, want 0", n)
		}
	})

	t.Run("closed store", func(t *testing.T) {
		s := open(t)
		id := enqueue(t, s, "closed", store.OutboxOpened, base)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.MarkDeliveredAll(ctx, []int64{id}, at); err == nil {
			t.Errorf("MarkDeliveredAll after Close = nil, want an error")
		}
	})
}

// errAny stands for "some error" in a test table.
var errAny = errors.New("any error")

func outboxMessage(t *testing.T, s *store.Store, id int64) store.OutboxMessage {
	t.Helper()
	m, err := s.OutboxMessage(context.Background(), id)
	if err != nil {
		t.Fatalf("OutboxMessage(%d): %v", id, err)
	}
	return m
}

func backlog(t *testing.T, s *store.Store) int {
	t.Helper()
	n, err := s.OutboxBacklog(context.Background())
	if err != nil {
		t.Fatalf("OutboxBacklog: %v", err)
	}
	return n
}
