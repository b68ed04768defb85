package demo

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// QuotePath is the quote API's endpoint path.
const QuotePath = "/quote"

// quoteAPI is the sandbox's stand-in for the quote API (the AppSync
// endpoint behind Amazon Connect): a loopback HTTP server that answers
// quickly, or, while slow-api is injected, slowly with a 504.
type quoteAPI struct {
	ln    net.Listener
	srv   *http.Server
	done  chan struct{}
	slow  atomic.Bool
	delay time.Duration // how long a slow answer takes
	calls atomic.Int64
}

func startQuoteAPI(delay time.Duration) (*quoteAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: quote api: listen: %w", err)
	}
	q := &quoteAPI{ln: ln, done: make(chan struct{}), delay: delay}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+QuotePath, q.quote)
	q.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(q.done)
		_ = q.srv.Serve(ln) // ErrServerClosed on close
	}()
	return q, nil
}

// url is the endpoint the quote-api check calls.
func (q *quoteAPI) url() string {
	return "http://" + q.ln.Addr().String() + QuotePath + "?state=FL&coverage=flood"
}

func (q *quoteAPI) quote(w http.ResponseWriter, r *http.Request) {
	n := q.calls.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if q.slow.Load() {
		// The resolver waits on a slow upstream until the gateway gives up.
		select {
		case <-time.After(q.delay):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusGatewayTimeout)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "Execution timed out: upstream rating service did not answer"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"quote_id": fmt.Sprintf("Q-%06d", n),
		"state":    r.URL.Query().Get("state"),
		"premium":  1234.56,
		"currency": "USD",
	})
}

func (q *quoteAPI) close() error {
	err := q.srv.Close() // a slow answer in flight is cut short
	<-q.done
	if err != nil {
		return fmt.Errorf("demo: quote api: close: %w", err)
	}
	return nil
}
