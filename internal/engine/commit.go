package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

// maxBatch bounds the runs one Record transaction commits.
const maxBatch = 64

// commitLinger is how long the Record that commits a batch waits for more
// to join it (unless the batch is full): a thousand checks every 10s
// record a run every 10ms, so a wait of a few runs' spacing gathers a few
// of them. While Records keep joining, it waits again, up to maxLinger in
// all: under a steady stream a batch holds ten or so runs (one
// transaction's BEGIN, silence lookup and COMMIT for them all), while a
// lone Record waits commitLinger only. It delays each Record (not its
// check's run) by at most maxLinger. With 10ms and 50ms, batches held three
// or four runs and serve spent a third of its CPU committing them; with
// 25ms and 100ms they hold about ten, and serve at 1,000 http checks every
// 10s went from 7.1% to 5.6% of a core (make bench-serve).
const (
	commitLinger = 25 * time.Millisecond
	maxLinger    = 100 * time.Millisecond
)

// committer commits the store work of concurrent Records together (group
// commit): while one transaction runs, the Records that arrive queue up,
// and the next transaction takes them all, one commit for many runs.
// Each run keeps its guarantees: its state step, incident and outbox row
// are written together or not at all, and Record returns only once its
// transaction has committed. A batch never holds two runs of one check (a
// later one waits for the next batch), and when a batch fails each of its
// runs is tried again in a transaction of its own, so one run's failure
// fails no other.
//
// A Record that finds no batch gathering and fewer than parallel
// transactions running leads a batch: it waits commitLinger for others to
// queue, then commits them with its own; the others wait for their result. When it is done and more
// have queued, it hands the next batch to the oldest waiter, so no Record
// commits for others longer than its own batch. SQLite has one writer, so
// one transaction runs at a time; PostgreSQL runs a few at once (each
// batch's statements go one after another on one connection).
type committer struct {
	mu        sync.Mutex
	queue     []*pending
	running   int  // batches gathering or committing
	gathering bool // a batch is gathering: new Records join the queue it takes
	parallel  int  // at least 1
}

// Transactions of Records at once: PostgreSQL's, and SQLite's one writer.
const (
	parallelPostgres = 4
	parallelSQLite   = 1
)

// pending is one Record waiting for its transaction.
type pending struct {
	ev   *Event
	now  time.Time
	done chan result // buffered
}

type result struct {
	err  error
	lead bool // commit the next batch (the result comes after)
}

// commit stores p's run and returns when its transaction has committed (or
// failed).
func (c *committer) commit(ctx context.Context, e *Engine, p *pending) error {
	p.done = make(chan result, 1)
	c.mu.Lock()
	if c.gathering || c.running >= max(c.parallel, 1) {
		c.queue = append(c.queue, p)
		c.mu.Unlock()
		r := <-p.done
		if !r.lead {
			return r.err
		}
		c.mu.Lock() // taken off the queue with its lead signal; running counts it
	} else {
		c.running++
	}
	// Gather: the Records arriving meanwhile join this batch.
	c.gathering = true
	for waited := time.Duration(0); len(c.queue) < maxBatch-1 && waited < maxLinger; waited += commitLinger {
		queued := len(c.queue)
		c.mu.Unlock()
		time.Sleep(commitLinger)
		c.mu.Lock()
		if len(c.queue) == queued {
			break // nobody joined: the stream is not steady enough to wait for
		}
	}
	batch := c.takeLocked(p)
	c.gathering = false
	c.mu.Unlock()
	e.commitBatch(ctx, batch)
	c.mu.Lock()
	if len(c.queue) > 0 && !c.gathering {
		next := c.queue[0]
		c.queue = c.queue[1:]
		next.done <- result{lead: true}
	} else {
		c.running--
	}
	c.mu.Unlock()
	return (<-p.done).err
}

// takeLocked returns the next batch: first, then the oldest queued runs,
// at most maxBatch, at most one per check, in check order; it removes
// them from the queue.
func (c *committer) takeLocked(first *pending) []*pending {
	batch := []*pending{first}
	seen := map[string]bool{first.ev.Check.ID: true}
	rest := c.queue[:0]
	for _, p := range c.queue {
		if len(batch) == maxBatch || seen[p.ev.Check.ID] {
			rest = append(rest, p)
			continue
		}
		seen[p.ev.Check.ID] = true
		batch = append(batch, p)
	}
	clear(c.queue[len(rest):])
	c.queue = rest
	// Lock check states in one order in every transaction, so concurrent
	// batches (here or on other replicas sharing a PostgreSQL store)
	// cannot deadlock.
	slices.SortFunc(batch, func(a, b *pending) int { return strings.Compare(a.ev.Check.ID, b.ev.Check.ID) })
	return batch
}

// commitBatch stores the batch's runs in one transaction and sends each
// its result.
func (e *Engine) commitBatch(ctx context.Context, batch []*pending) {
	before := make([]Event, len(batch))
	earliest := batch[0].now
	for i, p := range batch {
		before[i] = *p.ev
		if p.now.Before(earliest) {
			earliest = p.now
		}
	}
	err := e.store.WithTx(ctx, func(tx *store.Tx) error {
		silences, err := tx.ActiveSilences(ctx, earliest)
		if err != nil {
			return err
		}
		for _, p := range batch {
			if err := e.advance(ctx, tx, p.ev, p.now, silences); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, p := range batch {
			e.finish(p, err)
		}
		return
	}
	// Find the run that failed: each on its own.
	for i, p := range batch {
		*p.ev = before[i]
		err := e.store.WithTx(ctx, func(tx *store.Tx) error {
			silences, err := tx.ActiveSilences(ctx, p.now)
			if err != nil {
				return err
			}
			return e.advance(ctx, tx, p.ev, p.now, silences)
		})
		e.finish(p, err)
	}
}

// finish sends p its result. The channel has room: a run in a batch was
// sent nothing else, or has already taken its lead signal.
func (e *Engine) finish(p *pending, err error) {
	p.done <- result{err: err}
}
