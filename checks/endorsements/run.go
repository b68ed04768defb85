package endorsements

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/vigilhq/vigil/checks"
)

// check is a built endorsements check.
type check struct {
	id         string
	src        checks.SQLSource
	timeout    time.Duration
	rules      []rule
	rulesFile  string
	policies   string
	endorse    string
	attributes string
	thresholds checks.Thresholds
	log        *slog.Logger

	// sizes remembers how many ids (and bytes of them) the last run saw, so
	// the next one allocates its tables once instead of growing them.
	sizes atomic.Pointer[sizeHint]
}

type sizeHint struct{ ids, arena int }

// Run reads the policies, their attributes and their endorsements in one
// read-only transaction and reports each missing requirement. It returns an
// error (naming the query and the cause) when a query fails, is refused or
// lacks a required column. Each when key that can never match (see
// unmatchable) is logged as a warning.
func (c *check) Run(ctx context.Context) (checks.Result, error) {
	var coll checks.Collector
	st, err := c.read(ctx, &coll, true)
	if err != nil {
		return checks.Result{}, err
	}
	for _, u := range st.unmatchable() {
		c.log.Warn("endorsements: a when key names no column of policies_query and no attribute in attributes_query: the rule never applies",
			"check", c.id, "code", u.code, "key", u.key, "rules", fmt.Sprintf("%s:%d", c.rulesFile, u.line))
	}
	c.sizes.Store(&sizeHint{ids: st.ids.Len(), arena: st.ids.ArenaLen()})
	st.evaluate(&coll)
	return coll.Result(c.thresholds.Status(coll.Count())), nil
}

// read runs policies_query, attributes_query and (withEndorsements)
// endorsements_query in one read-only transaction.
func (c *check) read(ctx context.Context, coll *checks.Collector, withEndorsements bool) (*state, error) {
	hint := sizeHint{}
	if h := c.sizes.Load(); h != nil {
		hint = *h
	}
	st := newState(c.rules, c.attributes != "", hint)
	err := c.src.ReadOnly(ctx, c.timeout, func(ctx context.Context, tx *checks.Tx) error {
		if err := checks.EachRow(ctx, tx, c.policies, st.policyRow(coll)); err != nil {
			return fmt.Errorf("policies_query: %w", err)
		}
		if c.attributes != "" {
			if err := checks.EachRow(ctx, tx, c.attributes, st.attributeRow()); err != nil {
				return fmt.Errorf("attributes_query: %w", err)
			}
		}
		if !withEndorsements {
			return nil
		}
		st.startCounting()
		if err := checks.EachRow(ctx, tx, c.endorse, st.endorsementRow()); err != nil {
			return fmt.Errorf("endorsements_query: %w", err)
		}
		return nil
	})
	return st, err
}

// Per-policy transaction states (txn[i]): a policy only named as a reissue
// source, one of the three transaction types, or one whose type is unknown.
const (
	stateSource  uint8 = 0
	stateFirst   uint8 = 1 // stateFirst + txnNew, + txnRenewal, + txnReissue
	stateInvalid uint8 = stateFirst + numTxn
)

// activeRule is a rule that requires something of some transaction type.
type activeRule struct {
	code   string
	attach [numTxn]action
	mask   []uint64 // the condition bits that must all be set for the rule to apply
}

// valueSet holds the texts a when key accepts. A short list is searched in
// order (faster than hashing for the few values a rule usually names).
type valueSet struct {
	list []string
	set  map[string]struct{} // only when the list is long
}

// shortValueList is the longest list searched in order.
const shortValueList = 8

func newValueSet(values []string) valueSet {
	if len(values) <= shortValueList {
		return valueSet{list: values}
	}
	s := valueSet{set: make(map[string]struct{}, len(values))}
	for _, v := range values {
		s.set[v] = struct{}{}
	}
	return s
}

// has reports whether a scanned value's text is in the set; NULL never is.
func (s valueSet) has(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return s.hasText(x)
	case []byte:
		if utf8.Valid(x) {
			if s.set != nil {
				_, ok := s.set[string(x)]
				return ok
			}
			for _, w := range s.list {
				if w == string(x) {
					return true
				}
			}
			return false
		}
	}
	return s.hasText(checks.Text(v))
}

func (s valueSet) hasText(t string) bool {
	if s.set != nil {
		_, ok := s.set[t]
		return ok
	}
	for _, w := range s.list {
		if w == t {
			return true
		}
	}
	return false
}

// whenCond is one when key of one active rule; bit is its condition bit.
type whenCond struct {
	bit    int
	key    string
	code   string
	line   int
	values valueSet
	column int  // index in policies_query's columns, or -1 for an attribute
	seen   bool // an attribute of this name came in attributes_query
}

// state is what a run keeps while it streams the queries: one dense index
// per policy id (validated policies and reissue sources), and per index its
// transaction, reissue source, condition bits and copy counts of the codes
// the rules need. Nothing else of a row outlives it.
type state struct {
	rules      []activeRule
	conds      []whenCond
	attrConds  map[string][]int // attribute name -> indexes into conds
	hasAttrs   bool
	codes      map[string]int // code -> column in counts
	words      int            // condition words per policy
	resolved   bool
	colID      int
	colTxn     int
	colReissue int

	ids    *idTable
	txn    []uint8
	source []int32
	bits   []uint64

	counts   []uint8        // len = ids.Len() * len(codes); 255 means "see overflow"
	overflow map[int]uint32 // counts of 255 and more
}

func newState(rules []rule, hasAttrs bool, hint sizeHint) *state {
	st := &state{
		codes:     map[string]int{},
		attrConds: map[string][]int{},
		hasAttrs:  hasAttrs,
		ids:       newIDTable(hint.ids, hint.arena),
		txn:       make([]uint8, 0, hint.ids),
		source:    make([]int32, 0, hint.ids),
		overflow:  map[int]uint32{},
	}
	var firstCond []int // per active rule, its first condition bit
	for _, r := range rules {
		if r.attach == [numTxn]action{} {
			continue // requires nothing of anyone
		}
		st.codes[r.code] = len(st.rules)
		st.rules = append(st.rules, activeRule{code: r.code, attach: r.attach})
		firstCond = append(firstCond, len(st.conds))
		for _, c := range r.when {
			st.conds = append(st.conds, whenCond{bit: len(st.conds), key: c.key, code: r.code, line: c.line, values: newValueSet(c.values)})
		}
	}
	st.words = (len(st.conds) + 63) / 64
	st.bits = make([]uint64, 0, hint.ids*st.words)
	for i := range st.rules {
		end := len(st.conds)
		if i+1 < len(firstCond) {
			end = firstCond[i+1]
		}
		st.rules[i].mask = make([]uint64, st.words)
		for bit := firstCond[i]; bit < end; bit++ {
			st.rules[i].mask[bit/64] |= 1 << (bit % 64)
		}
	}
	return st
}

// resolve maps the policies_query columns: the three required ones, and
// each when key to a column or (when there is none) an attribute.
func (st *state) resolve(cols []string) error {
	idx, err := checks.Columns(cols, "policy_id", "transaction_type", "reissue_of")
	if err != nil {
		return err
	}
	st.colID, st.colTxn, st.colReissue = idx["policy_id"], idx["transaction_type"], idx["reissue_of"]
	for i := range st.conds {
		c := &st.conds[i]
		c.column = checks.ColumnIndex(cols, c.key)
		if c.column >= 0 {
			continue
		}
		// Not a column: an attribute name. Without attributes_query there
		// are no attributes, so the condition (and its rule) never matches.
		if st.hasAttrs {
			st.attrConds[c.key] = append(st.attrConds[c.key], i)
		}
	}
	st.resolved = true
	return nil
}

// index interns a policy id, growing the per-policy arrays for a new one.
func (st *state) index(id string) int32 {
	i, added := st.ids.Intern(id)
	if added {
		st.txn = append(st.txn, stateSource)
		st.source = append(st.source, -1)
		for range st.words {
			st.bits = append(st.bits, 0)
		}
	}
	return i
}

// policyRow reads one row of policies_query; a policy with an unknown
// transaction type is reported to coll at once.
func (st *state) policyRow(coll *checks.Collector) func(cols []string, vals []any) error {
	return func(cols []string, vals []any) error {
		if !st.resolved {
			if err := st.resolve(cols); err != nil {
				return err
			}
		}
		if vals[st.colID] == nil {
			return fmt.Errorf("a row has a NULL policy_id")
		}
		id := checks.Text(vals[st.colID])
		i := st.index(id)
		if st.txn[i] != stateSource {
			return fmt.Errorf("policy_id %q returned twice", id)
		}
		t := vals[st.colTxn]
		switch x := txnOf(t); {
		case x >= 0:
			st.txn[i] = stateFirst + uint8(x)
		default:
			st.txn[i] = stateInvalid
			detail := "transaction_type is NULL, want new, renewal or reissue"
			if t != nil {
				detail = fmt.Sprintf("transaction_type is %q, want new, renewal or reissue", checks.Text(t))
			}
			coll.Add(checks.Violation{Key: id + "/transaction_type", Detail: detail})
			return nil
		}
		if r := vals[st.colReissue]; r != nil {
			src := st.index(checks.Text(r))
			st.source[i] = src
		}
		base := int(i) * st.words
		for _, c := range st.conds {
			if c.column >= 0 && c.values.has(vals[c.column]) {
				st.bits[base+c.bit/64] |= 1 << (c.bit % 64)
			}
		}
		return nil
	}
}

// txnOf returns the transaction index of a scanned transaction_type, or -1.
func txnOf(v any) int {
	switch x := v.(type) {
	case nil:
		return -1
	case string:
		return txnIndex(x)
	case []byte:
		return txnIndex(string(x))
	}
	return txnIndex(checks.Text(v))
}

// attributeRow reads one row of attributes_query, setting the condition
// bits of the validated policy it names.
func (st *state) attributeRow() func(cols []string, vals []any) error {
	var colID, colName, colValue int
	var cursor idCursor
	first := true
	return func(cols []string, vals []any) error {
		if first {
			idx, err := checks.Columns(cols, "policy_id", "name", "value")
			if err != nil {
				return err
			}
			colID, colName, colValue, first = idx["policy_id"], idx["name"], idx["value"], false
		}
		var conds []int
		switch x := vals[colName].(type) {
		case nil:
			return nil
		case string:
			conds = st.attrConds[x]
		case []byte:
			conds = st.attrConds[string(x)]
		default:
			conds = st.attrConds[checks.Text(x)]
		}
		if len(conds) == 0 {
			return nil
		}
		for _, ci := range conds {
			st.conds[ci].seen = true
		}
		if vals[colValue] == nil {
			return nil // NULL never matches
		}
		i := cursor.Find(st.ids, vals[colID])
		if i < 0 || st.txn[i] == stateSource || st.txn[i] == stateInvalid {
			return nil
		}
		base := int(i) * st.words
		for _, ci := range conds {
			c := &st.conds[ci]
			if c.values.has(vals[colValue]) {
				st.bits[base+c.bit/64] |= 1 << (c.bit % 64)
			}
		}
		return nil
	}
}

// unmatchable returns the when conditions that name neither a column of
// policies_query nor an attribute attributes_query returned: their rules
// never apply (a typo such as "coverag" silently disables a rule). It
// knows nothing when policies_query returned no row.
func (st *state) unmatchable() []whenCond {
	if !st.resolved {
		return nil
	}
	var out []whenCond
	for _, c := range st.conds {
		if c.column < 0 && !c.seen {
			out = append(out, c)
		}
	}
	return out
}

// startCounting sizes the copy counts once every policy id is known.
func (st *state) startCounting() {
	st.counts = make([]uint8, st.ids.Len()*len(st.codes))
}

// endorsementRow reads one row of endorsements_query, counting a copy of a
// code the rules need on a policy the run knows.
func (st *state) endorsementRow() func(cols []string, vals []any) error {
	var colID, colCode int
	var cursor idCursor
	first := true
	return func(cols []string, vals []any) error {
		if first {
			idx, err := checks.Columns(cols, "policy_id", "endorsement")
			if err != nil {
				return err
			}
			colID, colCode, first = idx["policy_id"], idx["endorsement"], false
		}
		var c int
		var ok bool
		switch x := vals[colCode].(type) {
		case nil:
			return nil
		case string:
			c, ok = st.codes[x]
		case []byte:
			c, ok = st.codes[string(x)]
		default:
			c, ok = st.codes[checks.Text(x)]
		}
		if !ok {
			return nil
		}
		i := cursor.Find(st.ids, vals[colID])
		if i < 0 {
			return nil
		}
		k := int(i)*len(st.codes) + c
		switch n := st.counts[k]; {
		case n < 254:
			st.counts[k] = n + 1
		case n == 254:
			st.counts[k] = 255
			st.overflow[k] = 255
		default:
			st.overflow[k]++
		}
		return nil
	}
}

// copies returns how many copies of code column c policy i carries.
func (st *state) copies(i int32, c int) int {
	if i < 0 {
		return 0
	}
	k := int(i)*len(st.codes) + c
	if n := st.counts[k]; n < 255 {
		return int(n)
	}
	return int(st.overflow[k])
}

// copyPhrase introduces the source policy in a copy detail, per transaction.
var copyPhrase = [numTxn]string{"new from", "renewal of", "reissue of"}

// evaluate reports every missing requirement of every validated policy.
func (st *state) evaluate(coll *checks.Collector) {
	for i := range st.txn {
		t := st.txn[i]
		if t == stateSource || t == stateInvalid {
			continue
		}
		txn := int(t - stateFirst)
		bits := st.bits[i*st.words : (i+1)*st.words]
		for ri := range st.rules {
			r := &st.rules[ri]
			a := r.attach[txn]
			if a == actNo || !applies(bits, r.mask) {
				continue
			}
			has := st.copies(int32(i), ri)
			switch a {
			case actYes:
				if has == 0 {
					coll.Add(checks.Violation{
						Key:    st.ids.ID(int32(i)) + "/" + r.code,
						Detail: txnNames[txn] + " policy: needs " + r.code + ", has none",
					})
				}
			case actCopy:
				src := st.source[i]
				if need := st.copies(src, ri); has < need {
					coll.Add(checks.Violation{
						Key:    st.ids.ID(int32(i)) + "/" + r.code,
						Detail: copyPhrase[txn] + " " + st.ids.ID(src) + ": needs " + plural(need, "copy", "copies") + ", has " + strconv.Itoa(has),
					})
				}
			}
		}
	}
}

// applies reports whether every bit of mask is set in bits.
func applies(bits, mask []uint64) bool {
	for w, m := range mask {
		if bits[w]&m != m {
			return false
		}
	}
	return true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
