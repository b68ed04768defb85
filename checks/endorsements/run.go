package endorsements

import (
	"context"
	"encoding/binary"
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

	// ids remembers how many ids the last run interned, so the next one
	// sizes its hash table once instead of growing it.
	ids atomic.Int64
}

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
	c.ids.Store(int64(st.ids.Len()))
	st.evaluate(&coll)
	return coll.Result(c.thresholds.Status(coll.Count())), nil
}

// read runs policies_query, attributes_query and (withEndorsements)
// endorsements_query in one read-only transaction.
func (c *check) read(ctx context.Context, coll *checks.Collector, withEndorsements bool) (*state, error) {
	st := newState(c.rules, c.attributes != "", int(c.ids.Load()))
	err := c.src.ReadOnly(ctx, c.timeout, func(ctx context.Context, tx *checks.Tx) error {
		policies := st.policyRows(coll)
		if err := checks.EachRow(ctx, tx, c.policies, policies.row); err != nil {
			return fmt.Errorf("policies_query: %w", err)
		}
		if err := policies.flush(); err != nil {
			return fmt.Errorf("policies_query: %w", err)
		}
		if c.attributes != "" {
			attributes := st.attributeRows()
			if err := checks.EachRow(ctx, tx, c.attributes, attributes.row); err != nil {
				return fmt.Errorf("attributes_query: %w", err)
			}
			attributes.flush()
		}
		if !withEndorsements {
			return nil
		}
		endorsements := st.endorsementRows()
		if err := checks.EachRow(ctx, tx, c.endorse, endorsements.row); err != nil {
			return fmt.Errorf("endorsements_query: %w", err)
		}
		endorsements.flush()
		return nil
	})
	return st, err
}

// Per-policy transaction states: a policy only named as a reissue source,
// one of the three transaction types, or one whose type is unknown.
const (
	stateSource  uint8 = 0
	stateFirst   uint8 = 1 // stateFirst + txnNew, + txnRenewal, + txnReissue
	stateInvalid uint8 = stateFirst + numTxn
)

// What a run keeps of each policy id, as the data of its entry in the id
// table: its transaction state, the ref of its reissue source (0 for
// none), its condition bits (stride bytes) and the copies it carries of
// each code the rules need (one byte per code; 255 means "see overflow").
const (
	dataTxn    = 0
	dataSource = 1
	dataBits   = 5
)

// activeRule is a rule that requires something of some transaction type.
type activeRule struct {
	code   string
	attach [numTxn]action
	mask   []byte // the condition bits that must all be set for the rule to apply
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

// state is what a run keeps while it streams the queries: an entry per
// policy id (validated policies and reissue sources) holding its
// transaction, reissue source, condition bits and copy counts of the codes
// the rules need. Nothing else of a row outlives it.
type state struct {
	rules      []activeRule
	conds      []whenCond
	attrConds  map[string][]int // attribute name -> indexes into conds
	hasAttrs   bool
	codes      map[string]int // code -> its count's place after the bits
	stride     int            // bytes of condition bits per policy
	counts     int            // where an entry's counts start in its data
	resolved   bool
	colID      int
	colTxn     int
	colReissue int

	ids      *idTable
	overflow map[overflowKey]uint32 // counts of 255 and more
}

// overflowKey names one count: an entry's ref and a code's place.
type overflowKey struct {
	ref  uint32
	code int32
}

// newState returns the state of a run with room for about hint ids.
func newState(rules []rule, hasAttrs bool, hint int) *state {
	st := &state{
		codes:     map[string]int{},
		attrConds: map[string][]int{},
		hasAttrs:  hasAttrs,
		overflow:  map[overflowKey]uint32{},
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
	st.stride = (len(st.conds) + 7) / 8
	st.counts = dataBits + st.stride
	st.ids = newIDTable(st.counts+len(st.rules), hint)
	for i := range st.rules {
		end := len(st.conds)
		if i+1 < len(firstCond) {
			end = firstCond[i+1]
		}
		st.rules[i].mask = make([]byte, st.stride)
		for bit := firstCond[i]; bit < end; bit++ {
			st.rules[i].mask[bit/8] |= 1 << (bit % 8)
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

// intern interns the id k of batch b.
func (st *state) intern(b *idBatch, k int) (uint32, error) {
	ref, _, err := st.ids.intern(b.hash[k], b.id(k))
	return ref, err
}

// policyBatch reads the rows of policies_query a batch at a time: what a
// row says of its policy is kept until its id, and its source's, are
// interned together with the batch's others.
type policyBatch struct {
	st      *state
	coll    *checks.Collector
	ids     idBatch
	sources idBatch
	txn     [batchSize]uint8
	source  [batchSize]int16 // row k's reissue_of is sources' id source[k], or -1
	bits    []byte           // stride bytes per row
}

func (st *state) policyRows(coll *checks.Collector) *policyBatch {
	return &policyBatch{st: st, coll: coll, bits: make([]byte, batchSize*st.stride)}
}

// row reads one row of policies_query; a policy with an unknown
// transaction type is reported to coll at once.
func (p *policyBatch) row(cols []string, vals []any) error {
	st := p.st
	if !st.resolved {
		if err := st.resolve(cols); err != nil {
			return err
		}
	}
	id := vals[st.colID]
	if id == nil {
		return fmt.Errorf("a row has a NULL policy_id")
	}
	k := p.ids.n
	p.ids.add(id)
	p.source[k] = -1
	bits := p.bits[k*st.stride : (k+1)*st.stride]
	clear(bits)
	t := vals[st.colTxn]
	switch x := txnOf(t); {
	case x >= 0:
		p.txn[k] = stateFirst + uint8(x)
		if r := vals[st.colReissue]; r != nil {
			p.source[k] = int16(p.sources.n)
			p.sources.add(r)
		}
		for _, c := range st.conds {
			if c.column >= 0 && c.values.has(vals[c.column]) {
				bits[c.bit/8] |= 1 << (c.bit % 8)
			}
		}
	default:
		p.txn[k] = stateInvalid
		detail := "transaction_type is NULL, want new, renewal or reissue"
		if t != nil {
			detail = fmt.Sprintf("transaction_type is %q, want new, renewal or reissue", checks.Text(t))
		}
		p.coll.Add(checks.Violation{Key: checks.Text(id) + "/transaction_type", Detail: detail})
	}
	if p.ids.n == batchSize {
		return p.flush()
	}
	return nil
}

// flush interns the batch's policies and sources, in row order.
func (p *policyBatch) flush() error {
	st := p.st
	p.ids.prepare(st.ids)
	p.sources.prepare(st.ids)
	for k := range p.ids.n {
		ref, err := st.intern(&p.ids, k)
		if err != nil {
			return err
		}
		_, data := st.ids.entry(ref)
		if data[dataTxn] != stateSource {
			return fmt.Errorf("policy_id %q returned twice", p.ids.id(k))
		}
		data[dataTxn] = p.txn[k]
		if sk := p.source[k]; sk >= 0 {
			src, err := st.intern(&p.sources, int(sk))
			if err != nil {
				return err
			}
			binary.LittleEndian.PutUint32(data[dataSource:], src)
		}
		bits := data[dataBits : dataBits+st.stride]
		for w, m := range p.bits[k*st.stride : (k+1)*st.stride] {
			bits[w] |= m
		}
	}
	p.ids.reset()
	p.sources.reset()
	return nil
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

// attributeBatch reads the rows of attributes_query a batch at a time:
// the condition bits a row sets are kept until the batch's ids are looked
// up together.
type attributeBatch struct {
	st                     *state
	ids                    idBatch
	bits                   []byte // stride bytes per row
	colID, colName, colVal int
	first                  bool
}

func (st *state) attributeRows() *attributeBatch {
	return &attributeBatch{st: st, bits: make([]byte, batchSize*st.stride), first: true}
}

// row reads one row of attributes_query, keeping the condition bits it
// sets for the policy it names.
func (a *attributeBatch) row(cols []string, vals []any) error {
	st := a.st
	if a.first {
		idx, err := checks.Columns(cols, "policy_id", "name", "value")
		if err != nil {
			return err
		}
		a.colID, a.colName, a.colVal, a.first = idx["policy_id"], idx["name"], idx["value"], false
	}
	var conds []int
	switch x := vals[a.colName].(type) {
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
	if vals[a.colVal] == nil || vals[a.colID] == nil {
		return nil // NULL never matches
	}
	k := a.ids.n
	bits := a.bits[k*st.stride : (k+1)*st.stride]
	clear(bits)
	matched := false
	for _, ci := range conds {
		c := &st.conds[ci]
		if c.values.has(vals[a.colVal]) {
			bits[c.bit/8] |= 1 << (c.bit % 8)
			matched = true
		}
	}
	if !matched {
		return nil
	}
	a.ids.add(vals[a.colID])
	if a.ids.n == batchSize {
		a.flush()
	}
	return nil
}

// flush sets the batch's condition bits on the validated policies it names.
func (a *attributeBatch) flush() {
	st := a.st
	a.ids.find(st.ids)
	for k := range a.ids.n {
		ref := a.ids.ref[k]
		if ref == 0 {
			continue
		}
		_, data := st.ids.entry(ref)
		if t := data[dataTxn]; t == stateSource || t == stateInvalid {
			continue
		}
		bits := data[dataBits : dataBits+st.stride]
		for w, m := range a.bits[k*st.stride : (k+1)*st.stride] {
			bits[w] |= m
		}
	}
	a.ids.reset()
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

// endorsementBatch reads the rows of endorsements_query a batch at a time,
// counting a copy of a code the rules need on a policy the run knows.
type endorsementBatch struct {
	st             *state
	ids            idBatch
	code           [batchSize]int32
	colID, colCode int
	first          bool
}

func (st *state) endorsementRows() *endorsementBatch {
	return &endorsementBatch{st: st, first: true}
}

// row reads one row of endorsements_query.
func (e *endorsementBatch) row(cols []string, vals []any) error {
	st := e.st
	if e.first {
		idx, err := checks.Columns(cols, "policy_id", "endorsement")
		if err != nil {
			return err
		}
		e.colID, e.colCode, e.first = idx["policy_id"], idx["endorsement"], false
	}
	var c int
	var ok bool
	switch x := vals[e.colCode].(type) {
	case nil:
		return nil
	case string:
		c, ok = st.codes[x]
	case []byte:
		c, ok = st.codes[string(x)]
	default:
		c, ok = st.codes[checks.Text(x)]
	}
	if !ok || vals[e.colID] == nil {
		return nil
	}
	e.code[e.ids.n] = int32(c)
	e.ids.add(vals[e.colID])
	if e.ids.n == batchSize {
		e.flush()
	}
	return nil
}

// flush counts the batch's copies: it looks the ids up (a stage of
// independent loads), then counts each in the entry the lookup just read.
func (e *endorsementBatch) flush() {
	st := e.st
	e.ids.find(st.ids)
	for k := range e.ids.n {
		ref := e.ids.ref[k]
		if ref == 0 {
			continue
		}
		_, data := st.ids.entry(ref)
		count := &data[st.counts+int(e.code[k])]
		switch c := *count; {
		case c < 254:
			*count = c + 1
		case c == 254:
			*count = 255
			st.overflow[overflowKey{ref, e.code[k]}] = 255
		default:
			st.overflow[overflowKey{ref, e.code[k]}]++
		}
	}
	e.ids.reset()
}

// copies returns how many copies of the code in place c the policy whose
// entry is at ref (with data) carries.
func (st *state) copies(ref uint32, data []byte, c int) int {
	if n := data[st.counts+c]; n < 255 {
		return int(n)
	}
	return int(st.overflow[overflowKey{ref, int32(c)}])
}

// copyPhrase introduces the source policy in a copy detail, per transaction.
var copyPhrase = [numTxn]string{"new from", "renewal of", "reissue of"}

// evaluate reports every missing requirement of every validated policy. It
// walks the arena in the order the ids came, and builds a violation only
// when coll keeps it (a run may find a million).
func (st *state) evaluate(coll *checks.Collector) {
	var key []byte
	st.ids.each(func(ref uint32, id, data []byte) {
		t := data[dataTxn]
		if t == stateSource || t == stateInvalid {
			return
		}
		txn := int(t - stateFirst)
		bits := data[dataBits : dataBits+st.stride]
		src := binary.LittleEndian.Uint32(data[dataSource:])
		for ri := range st.rules {
			r := &st.rules[ri]
			a := r.attach[txn]
			if a == actNo || !applies(bits, r.mask) {
				continue
			}
			has, need := st.copies(ref, data, ri), 1
			if a == actCopy {
				need = 0
				if src != 0 {
					_, srcData := st.ids.entry(src)
					need = st.copies(src, srcData, ri)
				}
			}
			if has >= need {
				continue
			}
			key = append(append(append(key[:0], id...), '/'), r.code...)
			if !coll.Keeps(key) {
				coll.Skip()
				continue
			}
			detail := txnNames[txn] + " policy: needs " + r.code + ", has none"
			if a == actCopy {
				detail = copyPhrase[txn] + " " + st.ids.ID(src) + ": needs " + plural(need, "copy", "copies") + ", has " + strconv.Itoa(has)
			}
			coll.Add(checks.Violation{Key: string(key), Detail: detail})
		}
	})
}

// applies reports whether every bit of mask is set in bits.
func applies(bits, mask []byte) bool {
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
