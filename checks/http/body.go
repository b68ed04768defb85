package httpcheck

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/vigilhq/vigil/checks"
)

// GraphQL is a GraphQL request: the check POSTs it as GraphQL over HTTP
// does (Content-Type application/json, body {"query", "variables",
// "operationName"}) and fails a response whose errors list is not empty.
type GraphQL struct {
	Query         string         `yaml:"query"`
	Variables     map[string]any `yaml:"variables"`
	OperationName string         `yaml:"operation_name"`
}

// body is the request's JSON document.
func (g *GraphQL) body() ([]byte, error) {
	doc := map[string]any{"query": g.Query}
	if len(g.Variables) > 0 {
		doc["variables"] = g.Variables
	}
	if g.OperationName != "" {
		doc["operationName"] = g.OperationName
	}
	return json.Marshal(doc)
}

// JSONAssertion is one assertion on the JSON response body, at a GJSON
// path (https://github.com/tidwall/gjson/blob/master/SYNTAX.md):
// "data.quote.premium", "data.items.#" (an array's length),
// "items.#(status==\"open\")#" and so on. A failed assertion is one
// violation keyed by its path.
type JSONAssertion struct {
	Path string `yaml:"path"`
	// Exists: true requires a value that is not null; false requires the
	// path to be absent or null.
	Exists *bool `yaml:"exists"`
	// Equals requires a string, number or boolean of that type and value
	// (numbers compare by value: 1, 1.0 and 1e0 are equal).
	Equals any `yaml:"equals"`
	// Min and Max bound a number, inclusive.
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
}

// problems validates one assertion; field prefixes its field names.
func (a JSONAssertion) problems(field string) []checks.Problem {
	var ps []checks.Problem
	if strings.TrimSpace(a.Path) == "" {
		ps = append(ps, checks.Problem{Field: field + ".path", Msg: "path is required (a GJSON path such as data.quote.premium)"})
	}
	if a.Exists == nil && a.Equals == nil && a.Min == nil && a.Max == nil {
		ps = append(ps, checks.Problem{Field: field, Msg: "an assertion needs exists, equals, min or max"})
	}
	if a.Exists != nil && !*a.Exists && (a.Equals != nil || a.Min != nil || a.Max != nil) {
		ps = append(ps, checks.Problem{Field: field + ".exists", Msg: "exists: false cannot be combined with equals, min or max"})
	}
	switch e := a.Equals.(type) {
	case nil, string, bool, int, int64, uint64:
	case float64:
		if math.IsInf(e, 0) || math.IsNaN(e) {
			ps = append(ps, checks.Problem{Field: field + ".equals", Msg: "equals must be a finite number"})
		}
	case time.Time:
		ps = append(ps, checks.Problem{Field: field + ".equals", Msg: "equals reads as a YAML timestamp: quote it to compare a string (equals: \"2026-12-03\")"})
	default:
		ps = append(ps, checks.Problem{Field: field + ".equals", Msg: "equals must be a string, a number or true/false (for null use exists: false)"})
	}
	for _, b := range []struct {
		name string
		v    *float64
	}{{"min", a.Min}, {"max", a.Max}} {
		if b.v != nil && (math.IsInf(*b.v, 0) || math.IsNaN(*b.v)) {
			ps = append(ps, checks.Problem{Field: field + "." + b.name, Msg: b.name + " must be a finite number"})
		}
	}
	if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
		ps = append(ps, checks.Problem{Field: field + ".min", Msg: fmt.Sprintf("min (%s) must not be greater than max (%s)", num(*a.Min), num(*a.Max))})
	}
	return ps
}

// check returns why v fails the assertion, or "" when it holds.
func (a JSONAssertion) check(v gjson.Result) string {
	present := v.Exists() && v.Type != gjson.Null
	if a.Exists != nil {
		switch {
		case *a.Exists && !v.Exists():
			return "missing, want a value"
		case *a.Exists && !present:
			return "null, want a value"
		case !*a.Exists && present:
			return describe(v) + ", want it absent or null"
		}
	}
	if a.Equals != nil && !equals(v, a.Equals) {
		return describe(v) + ", want " + describeWant(a.Equals)
	}
	if a.Min == nil && a.Max == nil {
		return ""
	}
	if v.Type != gjson.Number {
		return describe(v) + ", want a number " + bounds(a.Min, a.Max)
	}
	if (a.Min != nil && v.Num < *a.Min) || (a.Max != nil && v.Num > *a.Max) {
		return v.Raw + ", want " + bounds(a.Min, a.Max)
	}
	return ""
}

func bounds(lo, hi *float64) string {
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("between %s and %s", num(*lo), num(*hi))
	case lo != nil:
		return "at least " + num(*lo)
	default:
		return "at most " + num(*hi)
	}
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// equals compares a JSON value with a configured scalar: same type, same
// value; numbers by exact decimal value.
func equals(v gjson.Result, want any) bool {
	switch w := want.(type) {
	case string:
		return v.Type == gjson.String && v.Str == w
	case bool:
		return (v.Type == gjson.True && w) || (v.Type == gjson.False && !w)
	}
	if v.Type != gjson.Number {
		return false
	}
	got, ok := new(big.Rat).SetString(v.Raw)
	if !ok {
		return false
	}
	exp, ok := new(big.Rat).SetString(scalarText(want))
	return ok && got.Cmp(exp) == 0
}

// scalarText writes a configured number as its shortest decimal form, the
// text it was written with in the YAML file.
func scalarText(v any) string {
	switch n := v.(type) {
	case int:
		return strconv.Itoa(n)
	case int64:
		return strconv.FormatInt(n, 10)
	case uint64:
		return strconv.FormatUint(n, 10)
	case float64:
		return num(n)
	}
	return fmt.Sprint(v)
}

// maxShown bounds how much of a response value a detail quotes.
const maxShown = 100

// describe writes a JSON value for a detail: strings quoted, numbers and
// booleans as written, "null", "missing", "an array of 3", "an object".
func describe(v gjson.Result) string {
	switch {
	case !v.Exists():
		return "missing"
	case v.Type == gjson.String:
		return strconv.Quote(cutRunes(v.Str, maxShown))
	case v.IsArray():
		n := len(v.Array())
		return fmt.Sprintf("an array of %d", n)
	case v.IsObject():
		return "an object"
	default:
		return cutRunes(v.Raw, maxShown) // number, true, false, null
	}
}

func describeWant(w any) string {
	if s, ok := w.(string); ok {
		return strconv.Quote(s)
	}
	return scalarText(w)
}

// graphQLErrors returns why a GraphQL response fails, or "": a non-empty
// errors list (its first error's message and path, at most
// maxErrorDetail characters, and how many more there are), an errors entry
// that is not a list, or a response with neither data nor errors (GraphQL
// spec, section 7.1 Response Format).
func graphQLErrors(body []byte) string {
	errs := gjson.GetBytes(body, "errors")
	data := gjson.GetBytes(body, "data")
	switch {
	case !errs.Exists() || errs.Type == gjson.Null:
		if !data.Exists() {
			return "GraphQL response has neither data nor errors"
		}
		return ""
	case !errs.IsArray():
		return "GraphQL response's errors is not a list"
	}
	list := errs.Array()
	if len(list) == 0 {
		return ""
	}
	first := list[0]
	text := first.Get("message").String()
	if text == "" {
		text = "(no message)"
	}
	if p := graphQLPath(first.Get("path")); p != "" {
		text += " (path " + p + ")"
	}
	detail := "GraphQL error: " + cutRunes(text, maxErrorDetail)
	if len(list) > 1 {
		detail += fmt.Sprintf(" and %d more", len(list)-1)
	}
	return detail
}

// maxErrorDetail bounds the first GraphQL error's message and path in a
// detail, in characters.
const maxErrorDetail = 200

// graphQLPath writes an error's path ["hero", "friends", 1, "name"] as
// hero.friends[1].name.
func graphQLPath(p gjson.Result) string {
	var b strings.Builder
	for _, seg := range p.Array() {
		if seg.Type == gjson.Number {
			b.WriteString("[" + seg.Raw + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg.String())
	}
	return b.String()
}

// cutRunes cuts s to at most n characters (runes), never inside one; a cut
// text ends in "…" (counted in n). Invalid UTF-8 is replaced first.
func cutRunes(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}
