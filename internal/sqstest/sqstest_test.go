package sqstest_test

import (
	"testing"

	"github.com/vigilhq/vigil/internal/sqstest"
)

func TestFailMessagesFillsTheDLQ(t *testing.T) {
	srv := sqstest.Start(t)
	p := srv.CreatePair(t, "orders", "orders-dlq", 2, nil, nil)
	srv.FailMessages(t, p, 5)
	if got := srv.Depth(t, p.DLQURL); got != 5 {
		t.Fatalf("DLQ depth = %d, want 5", got)
	}
	if got := srv.Depth(t, p.SourceURL); got != 0 {
		t.Fatalf("source depth = %d, want 0", got)
	}
}
