// Package demo builds vigil's training sandbox: a realistic policy database
// with policies, coverages, endorsements, generated documents, status
// history and warehouse loads, all deterministic for a given seed.
package demo

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Schema is the sandbox's policy database (SQLite).
const Schema = `
CREATE TABLE policies (
	policy_id        TEXT PRIMARY KEY,
	transaction_type TEXT NOT NULL,
	reissue_of       TEXT,
	agency           TEXT NOT NULL,
	state            TEXT NOT NULL,
	premium          NUMERIC NOT NULL,
	effective_date   TEXT NOT NULL
);
CREATE TABLE policy_coverages (
	policy_id TEXT NOT NULL REFERENCES policies(policy_id),
	coverage  TEXT NOT NULL
);
CREATE TABLE endorsements (
	policy_id   TEXT NOT NULL REFERENCES policies(policy_id),
	code        TEXT NOT NULL,
	attached_at TIMESTAMP NOT NULL
);
CREATE INDEX endorsements_policy ON endorsements(policy_id);
CREATE TABLE documents (
	id         INTEGER PRIMARY KEY,
	policy_id  TEXT NOT NULL REFERENCES policies(policy_id),
	doc_type   TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL
);
CREATE TABLE policy_status_history (
	id         INTEGER PRIMARY KEY,
	policy_id  TEXT NOT NULL REFERENCES policies(policy_id),
	status     TEXT NOT NULL,
	changed_at TIMESTAMP NOT NULL
);
CREATE TABLE etl_loads (
	table_name TEXT NOT NULL,
	loaded_at  TIMESTAMP NOT NULL
);
`

// Options sizes the generated data.
type Options struct {
	Policies int       // default 3000
	Seed     uint64    // default 42
	Now      time.Time // default time.Now(); loads and history end here
}

var (
	agencies  = []string{"Acme Insurance Agency", "Bayou Brokers", "Cypress Risk Partners", "Delta Coastal", "Evergreen Mutual Agents", "Frontier Underwriting"}
	states    = []string{"FL", "LA", "TX", "GA", "AL", "SC", "NC", "MS"}
	coverages = []string{"dwelling", "contents", "liability", "flood", "wind", "earthquake", "identity-theft"}
)

// Seed creates the schema in db and fills it. The data is clean: every rule
// holds, so the sandbox's checks pass until a scenario breaks something.
func Seed(ctx context.Context, db *sql.DB, opts Options) error {
	if opts.Policies <= 0 {
		opts.Policies = 3000
	}
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	now := opts.Now.UTC().Truncate(time.Second)
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("demo: seed: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // committed below
	if _, err := tx.ExecContext(ctx, Schema); err != nil {
		return fmt.Errorf("demo: create schema: %w", err)
	}
	// Rows are inserted 200 at a time with statements prepared once:
	// seeding writes tens of thousands of rows.
	const batchRows = 200
	stmts := map[string]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	pending := map[string][]any{} // single-row INSERT -> the args of its rows
	var order []string
	flush := func(q string) {
		args := pending[q]
		if err != nil || len(args) == 0 {
			return
		}
		cols := strings.Count(q, "?")
		rows := len(args) / cols
		values := q[strings.Index(q, "VALUES")+len("VALUES "):]
		multi := q + strings.Repeat(", "+values, rows-1)
		st, ok := stmts[multi]
		if !ok {
			if st, err = tx.PrepareContext(ctx, multi); err != nil {
				return
			}
			stmts[multi] = st
		}
		_, err = st.ExecContext(ctx, args...)
		pending[q] = args[:0]
	}
	ins := func(q string, args ...any) {
		if _, ok := pending[q]; !ok {
			order = append(order, q)
		}
		pending[q] = append(pending[q], args...)
		if len(pending[q]) >= batchRows*strings.Count(q, "?") {
			flush(q)
		}
	}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

	type policy struct {
		id, txType, state string
		covers            map[string]bool
		codes             map[string]int
	}
	var issued []policy
	docID, histID := 0, 0
	for i := 1; i <= opts.Policies; i++ {
		p := policy{id: fmt.Sprintf("P-%05d", i), txType: "new", state: states[rng.IntN(len(states))], covers: map[string]bool{}, codes: map[string]int{}}
		var reissueOf any
		switch r := rng.IntN(10); {
		case r < 2 && len(issued) > 0:
			p.txType = "renewal"
		case r < 3 && len(issued) > 0:
			p.txType = "reissue"
			src := issued[rng.IntN(len(issued))]
			reissueOf = src.id
			p.state = src.state
			for c := range src.covers {
				p.covers[c] = true
			}
			for c, n := range src.codes {
				p.codes[c] = n
			}
		}
		if p.txType != "reissue" {
			p.covers["dwelling"] = true
			for _, c := range coverages[1:] {
				if rng.IntN(3) == 0 {
					p.covers[c] = true
				}
			}
		}
		// What the AutoAttach rules of example/rules.yaml require.
		if p.covers["flood"] && (p.state == "FL" || p.state == "LA") && p.codes["EN-FLOOD-01"] == 0 {
			p.codes["EN-FLOOD-01"] = 1
		}
		if p.covers["wind"] && (p.state == "FL" || p.state == "TX" || p.state == "SC") && p.codes["EN-WIND-02"] == 0 && p.txType != "reissue" {
			p.codes["EN-WIND-02"] = 1 + rng.IntN(2)
		}
		if p.txType == "new" && p.codes["EN-PRIV-00"] == 0 {
			p.codes["EN-PRIV-00"] = 1
		}
		if p.covers["identity-theft"] && p.txType != "reissue" {
			p.codes["EN-IDT-04"] = 1
		}
		effective := now.AddDate(0, 0, -rng.IntN(365))
		premium := fmt.Sprintf("%d.%02d", 400+rng.IntN(4000), rng.IntN(100))
		ins(`INSERT INTO policies VALUES (?, ?, ?, ?, ?, ?, ?)`, p.id, p.txType, reissueOf, agencies[rng.IntN(len(agencies))], p.state, premium, effective.Format("2006-01-02"))
		for c := range p.covers {
			ins(`INSERT INTO policy_coverages VALUES (?, ?)`, p.id, c)
		}
		for c, n := range p.codes {
			for k := 0; k < n; k++ {
				ins(`INSERT INTO endorsements VALUES (?, ?, ?)`, p.id, c, ts(effective.Add(time.Duration(k)*time.Minute)))
			}
		}
		for _, doc := range []string{"declarations", "policy-jacket", "invoice"} {
			docID++
			ins(`INSERT INTO documents VALUES (?, ?, ?, ?)`, docID, p.id, doc, ts(effective.Add(time.Duration(docID%50)*time.Second)))
		}
		at := effective.Add(-48 * time.Hour)
		for _, st := range lifecycle(rng) {
			histID++
			ins(`INSERT INTO policy_status_history VALUES (?, ?, ?, ?)`, histID, p.id, st, ts(at))
			at = at.Add(time.Duration(1+rng.IntN(72)) * time.Hour)
		}
		issued = append(issued, p)
	}
	for _, t := range []string{"warehouse.policies", "warehouse.claims", "warehouse.billing"} {
		ins(`INSERT INTO etl_loads VALUES (?, ?)`, t, ts(now.Add(-time.Duration(10+rng.IntN(30))*time.Minute)))
		ins(`INSERT INTO etl_loads VALUES (?, ?)`, t, ts(now.Add(-25*time.Hour)))
	}
	for _, q := range order {
		flush(q)
	}
	if err != nil {
		return fmt.Errorf("demo: seed: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("demo: seed commit: %w", err)
	}
	return nil
}

// lifecycle is one legal status history: quoted, bound, issued, and
// sometimes endorsed or cancelled.
func lifecycle(rng *rand.Rand) []string {
	states := []string{"quoted", "bound", "issued"}
	switch rng.IntN(6) {
	case 0:
		states = append(states, "cancelled")
	case 1:
		states = append(states, "endorsed", "issued")
	}
	return states
}
