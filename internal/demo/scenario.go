package demo

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// A Scenario breaks the sandbox's data the way a real incident would, and
// clears it again. Inject and Clear are idempotent.
type Scenario struct {
	Name        string
	Description string
	Check       string // the check that should fail
	Runbook     string // the check's runbook (set in Catalog)
	inject      []string
	clear       []string
}

// Rows a scenario adds carry a ".000" fraction in their timestamp (the
// seeded data has none), so Clear removes exactly them.

// Scenarios are the injectable failures of the data checks, by name.
var Scenarios = map[string]Scenario{
	"reissue-missing-copy": {
		Name:        "reissue-missing-copy",
		Description: "Reissued policies lost a copied endorsement (the reissue job skipped copying).",
		Check:       "missing-endorsements",
		inject: []string{
			`CREATE TABLE IF NOT EXISTS scenario_removed_endorsements AS SELECT * FROM endorsements WHERE 0`,
			`INSERT INTO scenario_removed_endorsements SELECT e.* FROM endorsements e
			 WHERE e.rowid IN (SELECT MIN(e2.rowid) FROM endorsements e2 JOIN policies p ON p.policy_id = e2.policy_id
			                   WHERE p.transaction_type = 'reissue' AND e2.code IN ('EN-FLOOD-01', 'EN-WIND-02')
			                   GROUP BY e2.policy_id LIMIT 7)
			 AND NOT EXISTS (SELECT 1 FROM scenario_removed_endorsements)`,
			`DELETE FROM endorsements WHERE rowid IN (SELECT e.rowid FROM endorsements e JOIN scenario_removed_endorsements r
			 ON r.policy_id = e.policy_id AND r.code = e.code AND r.attached_at = e.attached_at)`,
		},
		clear: []string{
			`CREATE TABLE IF NOT EXISTS scenario_removed_endorsements AS SELECT * FROM endorsements WHERE 0`,
			`INSERT INTO endorsements SELECT * FROM scenario_removed_endorsements`,
			`DELETE FROM scenario_removed_endorsements`,
		},
	},
	"double-write": {
		Name:        "double-write",
		Description: "Two document workers raced and wrote the same declarations page twice, a second apart.",
		Check:       "duplicate-documents",
		inject: []string{
			`INSERT INTO documents (policy_id, doc_type, created_at)
			 SELECT policy_id, doc_type, datetime(created_at, '+1 second') || '.000' FROM documents
			 WHERE doc_type = 'declarations' AND id % 97 = 0
			 AND NOT EXISTS (SELECT 1 FROM documents WHERE created_at LIKE '%.000')`,
		},
		clear: []string{
			`DELETE FROM documents WHERE created_at LIKE '%.000'`,
		},
	},
	"out-of-order-status": {
		Name:        "out-of-order-status",
		Description: "A replayed message put policies back to 'bound' after they were issued.",
		Check:       "status-transitions",
		inject: []string{
			`INSERT INTO policy_status_history (policy_id, status, changed_at)
			 SELECT policy_id, 'bound', datetime(MAX(changed_at), '+2 hours') || '.000' FROM policy_status_history
			 WHERE policy_id IN (SELECT policy_id FROM policies ORDER BY policy_id LIMIT 5 OFFSET 40)
			 AND NOT EXISTS (SELECT 1 FROM policy_status_history WHERE changed_at LIKE '%.000')
			 GROUP BY policy_id`,
		},
		clear: []string{
			`DELETE FROM policy_status_history WHERE changed_at LIKE '%.000'`,
		},
	},
	"stale-warehouse": {
		Name:        "stale-warehouse",
		Description: "The policies extract stopped: no file has landed under raw/policies/ for 12 hours, and the nightly warehouse load for policies failed; its last load is a day old.",
		Check:       "warehouse-freshness",
		inject: []string{
			`CREATE TABLE IF NOT EXISTS scenario_held_loads AS SELECT * FROM etl_loads WHERE 0`,
			`INSERT INTO scenario_held_loads SELECT * FROM etl_loads
			 WHERE table_name = 'warehouse.policies' AND loaded_at > datetime('now', '-12 hours')`,
			`DELETE FROM etl_loads WHERE table_name = 'warehouse.policies' AND loaded_at > datetime('now', '-12 hours')`,
		},
		clear: []string{
			`CREATE TABLE IF NOT EXISTS scenario_held_loads AS SELECT * FROM etl_loads WHERE 0`,
			`INSERT INTO etl_loads SELECT table_name, datetime('now', '-5 minutes') FROM scenario_held_loads`,
			`DELETE FROM scenario_held_loads`,
		},
	},
}

// ScenarioNames lists the scenarios in order.
func ScenarioNames() []string {
	names := make([]string, 0, len(Scenarios))
	for n := range Scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Inject applies the named scenario to the sandbox database.
func Inject(ctx context.Context, db *sql.DB, name string) error {
	sc, ok := Scenarios[name]
	if !ok {
		return fmt.Errorf("demo: unknown scenario %q (known: %s)", name, strings.Join(ScenarioNames(), ", "))
	}
	return execAll(ctx, db, "inject "+name, sc.inject)
}

// Clear undoes the named scenario.
func Clear(ctx context.Context, db *sql.DB, name string) error {
	sc, ok := Scenarios[name]
	if !ok {
		return fmt.Errorf("demo: unknown scenario %q (known: %s)", name, strings.Join(ScenarioNames(), ", "))
	}
	return execAll(ctx, db, "clear "+name, sc.clear)
}

func execAll(ctx context.Context, db *sql.DB, what string, stmts []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("demo: %s: %w", what, err)
	}
	defer tx.Rollback() //nolint:errcheck // committed below
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("demo: %s: %w", what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("demo: %s: %w", what, err)
	}
	return nil
}
