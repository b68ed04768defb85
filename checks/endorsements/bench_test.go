package endorsements_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/endorsements"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
)

// The benchmark data set, shaped like a policy database: 1,000,000
// policies, about 3,400,000 endorsement rows and 1,000,000 coverage rows,
// generated once into a SQLite file in the user cache directory (see
// kindtest.CachedSQLite). Every table is stored twice: in random order (the
// policies, endorsements and attributes tables), as a database returns rows
// that were written over years, and in policy order (the *_ordered tables).
const (
	benchPolicies = 1_000_000
	benchDBName   = "endorsements-1000000-v2.db"
)

// benchRules names codes of realistic width, some conditional on a column
// (state, agency), some on an attribute (coverage), some on both.
const benchRules = `endorsements:
  - code: EN-BASE-00
    auto_attach: {new: yes, renewal: yes, reissue: copy}
  - code: EN-COAST-01
    when: {state: [FL, LA]}
    auto_attach: {new: yes, renewal: yes, reissue: copy}
  - code: EN-FLOOD-01
    when: {coverage: [flood]}
    auto_attach: {new: yes, reissue: copy}
  - code: EN-WIND-02
    when: {coverage: [wind, quake], state: [TX, CA, FL]}
    auto_attach: {renewal: yes, reissue: yes}
  - code: EN-AGENCY-04
    when: {agency: [AG-0001, AG-0002, AG-0003, AG-0004, AG-0005]}
    auto_attach: {new: yes}
  - code: EN-REISS-05
    auto_attach: {reissue: copy}
  - code: EN-NYDISC-06
    when: {state: NY}
    auto_attach: {new: yes, renewal: no, reissue: copy}
  - code: EN-FIRE-07
    when: {coverage: fire}
    auto_attach: {renewal: yes}
  - code: EN-MIXED-08
    when: {agency: [AG-0010, AG-0020], coverage: [flood, fire]}
    auto_attach: {new: yes, renewal: yes, reissue: yes}
  - code: EN-MANUAL-09
    auto_attach: {new: no, renewal: no, reissue: no}
`

// benchQueries are the check's three queries over one ordering of the data.
type benchQueries struct{ policies, attributes, endorsements string }

func queriesFor(order string) benchQueries {
	suffix := ""
	if order == "ordered" {
		suffix = "_ordered"
	}
	return benchQueries{
		policies:     "SELECT policy_id, transaction_type, reissue_of, state, agency FROM policies" + suffix,
		attributes:   "SELECT policy_id, name, value FROM attributes" + suffix,
		endorsements: "SELECT policy_id, endorsement FROM endorsements" + suffix,
	}
}

func TestMain(m *testing.M) {
	passes := kindtest.Passes{}
	for _, order := range []string{"shuffled", "ordered"} {
		q := queriesFor(order)
		passes["check-"+order] = kindtest.CheckPass(func(src checks.SQLSource) (checks.Check, error) { return buildCheck(src, q) })
		passes["scan-"+order] = kindtest.ScanPass(q.policies, q.attributes, q.endorsements)
	}
	os.Exit(kindtest.BenchMain(m, passes))
}

// buildCheck builds the benchmark's check over src with queries q, its
// rules file written to a temporary directory.
func buildCheck(src checks.SQLSource, q benchQueries) (checks.Check, error) {
	dir, err := os.MkdirTemp("", "vigil-endorsements-rules")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(benchRules), 0o600); err != nil {
		return nil, err
	}
	spec := endorsements.Spec{Rules: "rules.yaml", PoliciesQuery: q.policies, EndorsementsQuery: q.endorsements, AttributesQuery: q.attributes}
	if ps := spec.Validate(checks.SpecEnv{BaseDir: dir}); len(ps) > 0 {
		return nil, fmt.Errorf("validate: %+v", ps)
	}
	return spec.Build(checks.Deps{CheckID: "bench", BaseDir: dir, SQL: src, Timeout: 10 * time.Minute})
}

// BenchmarkEndorsements runs the check and a bare scan of its three queries
// in turn, each in a fresh process, over rows in random order ("shuffled")
// and in policy order ("ordered"), and reports the check's CPU time as a
// multiple of the scan's (x-scan-cpu) and each one's peak RSS (see
// kindtest.Compare).
func BenchmarkEndorsements(b *testing.B) {
	db := kindtest.CachedSQLite(b, benchDBName, generate)
	for _, order := range []string{"shuffled", "ordered"} {
		b.Run(order, func(b *testing.B) {
			kindtest.Compare(b, db, "check-"+order, "scan-"+order)
		})
	}
}

// benchPolicy is one generated policy.
type benchPolicy struct {
	id, txn, state, agency string
	reissueOf              any // NULL or an id
}

// generate writes the policies, endorsements and attributes tables in
// random order, and the same rows in policy order.
//
// Policy ids are "P-" and ten digits; 50% of policies are new, 30%
// renewals and 20% reissues of a policy anywhere in the book (2% of those
// name a policy that does not exist, 1% none), and 1 in 100,000 has an
// unknown transaction type. States and agencies are skewed (a few big ones,
// a long tail); endorsement counts per policy are skewed too (mostly 2 to
// 4, a few with a dozen), drawn from 40 codes of which the rules name 10.
func generate(tx *sql.Tx) error {
	rng := rand.New(rand.NewPCG(16, 2026))
	states := []string{"CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI", "NJ", "VA", "WA", "AZ", "MA", "TN", "IN", "MO", "MD", "LA"}
	stateZipf := rand.NewZipf(rng, 1.1, 2, uint64(len(states)-1))
	agencyZipf := rand.NewZipf(rng, 1.2, 4, 399)
	codes := []string{"EN-BASE-00", "EN-COAST-01", "EN-FLOOD-01", "EN-WIND-02", "EN-AGENCY-04", "EN-REISS-05", "EN-NYDISC-06", "EN-FIRE-07", "EN-MIXED-08", "EN-MANUAL-09"}
	for i := len(codes); i < 40; i++ {
		codes = append(codes, fmt.Sprintf("EN-OTHER-%02d", i))
	}
	coverages := []string{"flood", "wind", "fire", "quake", "theft"}

	id := func(i int) string { return fmt.Sprintf("P-%010d", 1_200_000+3*i) }
	policies := make([]benchPolicy, benchPolicies)
	for i := range policies {
		p := benchPolicy{id: id(i), agency: fmt.Sprintf("AG-%04d", 1+agencyZipf.Uint64())}
		switch r := rng.IntN(100); {
		case i%100_000 == 99_999:
			p.txn = "cancel"
		case r < 50:
			p.txn = "new"
		case r < 80:
			p.txn = "renewal"
		default:
			p.txn = "reissue"
			switch r := rng.IntN(100); {
			case r < 2:
				p.reissueOf = fmt.Sprintf("P-9%09d", rng.IntN(1_000_000))
			case r < 3:
			default:
				p.reissueOf = id(rng.IntN(benchPolicies))
			}
		}
		if rng.IntN(100) != 0 {
			p.state = states[stateZipf.Uint64()]
		}
		policies[i] = p
	}

	var endorsementRows, attributeRows [][2]string
	for _, p := range policies {
		n := 0
		switch r := rng.IntN(100); {
		case r < 4:
		case r < 12:
			n = 1
		case r < 35:
			n = 2
		case r < 62:
			n = 3
		case r < 84:
			n = 4
		case r < 97:
			n = 5 + rng.IntN(4)
		default:
			n = 9 + rng.IntN(12)
		}
		for range n {
			// The rules' codes are common, the others rarer.
			c := codes[rng.IntN(10)]
			if rng.IntN(3) == 0 {
				c = codes[10+rng.IntN(30)]
			}
			endorsementRows = append(endorsementRows, [2]string{p.id, c})
		}
		if rng.IntN(100) < 85 {
			attributeRows = append(attributeRows, [2]string{p.id, coverages[min(rng.IntN(8), 4)]})
			if rng.IntN(100) < 15 {
				attributeRows = append(attributeRows, [2]string{p.id, coverages[rng.IntN(5)]})
			}
		}
	}

	for _, s := range []string{
		"CREATE TABLE policies (policy_id TEXT, transaction_type TEXT, reissue_of TEXT, state TEXT, agency TEXT)",
		"CREATE TABLE endorsements (policy_id TEXT, endorsement TEXT)",
		"CREATE TABLE attributes (policy_id TEXT, name TEXT, value TEXT)",
	} {
		if _, err := tx.Exec(s); err != nil {
			return err
		}
	}
	rng.Shuffle(len(policies), func(i, j int) { policies[i], policies[j] = policies[j], policies[i] })
	rng.Shuffle(len(endorsementRows), func(i, j int) { endorsementRows[i], endorsementRows[j] = endorsementRows[j], endorsementRows[i] })
	rng.Shuffle(len(attributeRows), func(i, j int) { attributeRows[i], attributeRows[j] = attributeRows[j], attributeRows[i] })
	ins, err := kindtest.NewInserter(tx, "policies", 5)
	if err != nil {
		return err
	}
	for _, p := range policies {
		var state any
		if p.state != "" {
			state = p.state
		}
		if err := ins.Insert(p.id, p.txn, p.reissueOf, state, p.agency); err != nil {
			return err
		}
	}
	if err := ins.Flush(); err != nil {
		return err
	}
	if ins, err = kindtest.NewInserter(tx, "endorsements", 2); err != nil {
		return err
	}
	for _, e := range endorsementRows {
		if err := ins.Insert(e[0], e[1]); err != nil {
			return err
		}
	}
	if err := ins.Flush(); err != nil {
		return err
	}
	if ins, err = kindtest.NewInserter(tx, "attributes", 3); err != nil {
		return err
	}
	for _, a := range attributeRows {
		if err := ins.Insert(a[0], "coverage", a[1]); err != nil {
			return err
		}
	}
	if err := ins.Flush(); err != nil {
		return err
	}
	for _, s := range []string{
		"CREATE TABLE policies_ordered AS SELECT * FROM policies ORDER BY policy_id",
		"CREATE TABLE endorsements_ordered AS SELECT * FROM endorsements ORDER BY policy_id",
		"CREATE TABLE attributes_ordered AS SELECT * FROM attributes ORDER BY policy_id",
	} {
		if _, err := tx.Exec(s); err != nil {
			return err
		}
	}
	return nil
}
