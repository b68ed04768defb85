package dashboards_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/vigilhq/vigil/dashboards"
)

// exported is `vigil datadog export` split into its three parts, decoded
// with unknown fields rejected.
type exported struct {
	Dashboard json.RawMessage   `json:"dashboard"`
	SLOs      []json.RawMessage `json:"slos"`
	Monitors  []json.RawMessage `json:"monitors"`
}

func export(t *testing.T, namespace string) exported {
	t.Helper()
	out, err := dashboards.Export(namespace)
	if err != nil {
		t.Fatal(err)
	}
	var doc exported
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("export: %v", err)
	}
	return doc
}

// strict decodes raw into the Datadog API client's model v (with unknown
// fields rejected by the decoder) and reports every place where the
// client's own unmarshalling found something its API does not define: an
// UnparsedObject (a value that matches no variant, an enum value outside
// the API's list such as live_span "4w") or AdditionalProperties (a field
// the model does not have).
func strict(t *testing.T, what string, raw []byte, v any) {
	t.Helper()
	for _, p := range strictProblems(what, raw, v) {
		t.Errorf("%s", p)
	}
}

func strictProblems(what string, raw []byte, v any) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return []string{fmt.Sprintf("%s: Datadog's API client rejects it: %v", what, err)}
	}
	return unparsed(reflect.ValueOf(v), what)
}

// unparsed walks a decoded model and lists its non-empty UnparsedObject
// and AdditionalProperties fields, by path.
func unparsed(v reflect.Value, path string) []string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return unparsed(v.Elem(), path)
	case reflect.Slice, reflect.Array:
		var out []string
		for i := range v.Len() {
			out = append(out, unparsed(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	case reflect.Map:
		var out []string
		for _, k := range v.MapKeys() {
			out = append(out, unparsed(v.MapIndex(k), fmt.Sprintf("%s[%v]", path, k))...)
		}
		return out
	case reflect.Struct:
		var out []string
		for i := range v.NumField() {
			f, ft := v.Field(i), v.Type().Field(i)
			if !ft.IsExported() {
				continue
			}
			switch ft.Name {
			case "UnparsedObject", "AdditionalProperties":
				if !f.IsZero() && !(f.Kind() == reflect.Map && f.Len() == 0) {
					raw, _ := json.Marshal(f.Interface())
					out = append(out, fmt.Sprintf("%s: Datadog's API does not define %s", path, raw))
				}
			default:
				out = append(out, unparsed(f, path+"."+ft.Name)...)
			}
		}
		return out
	}
	return nil
}

// TestExportDecodesIntoDatadogModels: each part of the export decodes into
// the type Datadog's own Go client uses for its API (POST /api/v1/dashboard,
// /api/v1/slo, /api/v1/monitor), with nothing left over.
func TestExportDecodesIntoDatadogModels(t *testing.T) {
	doc := export(t, "vigil")
	var d datadogV1.Dashboard
	strict(t, "dashboard", doc.Dashboard, &d)
	if d.Title == "" || len(d.Widgets) == 0 {
		t.Errorf("dashboard decoded without title or widgets: %+v", d)
	}
	for i, raw := range doc.SLOs {
		var s datadogV1.ServiceLevelObjectiveRequest
		strict(t, fmt.Sprintf("slos[%d]", i), raw, &s)
		if s.Type != datadogV1.SLOTYPE_METRIC || s.Query == nil {
			t.Errorf("slos[%d]: want a metric SLO with a query, got %+v", i, s)
		}
	}
	for i, raw := range doc.Monitors {
		var m datadogV1.Monitor
		strict(t, fmt.Sprintf("monitors[%d]", i), raw, &m)
		if m.Query == "" || m.Type != datadogV1.MONITORTYPE_QUERY_ALERT {
			t.Errorf("monitors[%d]: want a query alert, got %+v", i, m)
		}
	}
}

// liveSpans are the timeframes a widget's time.live_span may take
// (https://docs.datadoghq.com/api/latest/dashboards/, widget "time":
// live_span "1m, 5m, 10m, 15m, 30m, 1h, 4h, 1d, 2d, 1w, 1mo, 3mo, 6mo,
// week_to_date, month_to_date, 1y, alert"); "4w" is not one.
var liveSpans = []string{"1m", "5m", "10m", "15m", "30m", "1h", "4h", "1d", "2d", "1w", "1mo", "3mo", "6mo", "week_to_date", "month_to_date", "1y", "alert"}

// strings under key anywhere in v.
func valuesOf(v any, key string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == key {
				out = append(out, s)
			} else {
				out = append(out, valuesOf(val, key)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, valuesOf(e, key)...)
		}
	}
	return out
}

var (
	// filterRE is a metric query's scope: the braces right after a metric
	// name (not the "by {...}" grouping).
	filterRE = regexp.MustCompile(`[a-z0-9]+:[A-Za-z][\w.]*\{([^}]*)\}`)
	// functionalRE finds Datadog's functional boolean operators.
	functionalRE = regexp.MustCompile(`\b(?:AND|OR|NOT|IN|and|or|not|in)\b`)
	// inListRE is the value list of "key IN (a, b)", whose commas are part
	// of the functional syntax.
	inListRE = regexp.MustCompile(`(?i)\bIN\s*\([^)]*\)`)
)

// TestExportFollowsDatadogQueryRules holds the export to the documented
// rules the API client's types cannot see.
func TestExportFollowsDatadogQueryRules(t *testing.T) {
	doc := export(t, "vigil")
	var all []any
	for _, raw := range append(append([]json.RawMessage{doc.Dashboard}, doc.SLOs...), doc.Monitors...) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		all = append(all, v)
	}
	for _, span := range valuesOf(all, "live_span") {
		if !slices.Contains(liveSpans, span) {
			t.Errorf("live_span %q is not one of Datadog's timeframes %v", span, liveSpans)
		}
	}
	// Boolean filtered queries
	// (https://docs.datadoghq.com/metrics/advanced-filtering/#boolean-filtered-queries):
	// the symbolic syntax (',' and '!') cannot be used together with the
	// functional operators (AND, OR, NOT, IN, NOT IN); Datadog gives
	// avg:mymetric{env:prod AND !region:us-east} as invalid.
	var queries []string
	for _, key := range []string{"q", "query", "numerator", "denominator"} {
		queries = append(queries, valuesOf(all, key)...)
	}
	if len(queries) < 10 {
		t.Fatalf("only %d queries found", len(queries))
	}
	for _, q := range queries {
		for _, m := range filterRE.FindAllStringSubmatch(q, -1) {
			scope := inListRE.ReplaceAllString(m[1], "IN ()")
			if functionalRE.MatchString(scope) && strings.ContainsAny(scope, ",!") {
				t.Errorf("filter {%s} mixes ',' or '!' with AND/OR/NOT/IN: %s", m[1], q)
			}
		}
	}
}

// TestStrictFindsWhatDatadogDoesNotDefine: the check above is only worth
// something if it fails on what Datadog's API does not define.
func TestStrictFindsWhatDatadogDoesNotDefine(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		v    any
	}{
		{name: "unknown request field", v: &datadogV1.Dashboard{},
			raw: `{"title":"t","layout_type":"ordered","widgets":[{"definition":{"type":"timeseries","requests":[{"q":"avg:x{*}","colour":"red"}]}}]}`},
		{name: "live_span 4w", v: &datadogV1.Dashboard{},
			raw: `{"title":"t","layout_type":"ordered","widgets":[{"definition":{"type":"query_value","time":{"live_span":"4w"},"requests":[{"q":"avg:x{*}"}]}}]}`},
		{name: "unknown widget type", v: &datadogV1.Dashboard{},
			raw: `{"title":"t","layout_type":"ordered","widgets":[{"definition":{"type":"pie","requests":[]}}]}`},
		{name: "monitor option typo", v: &datadogV1.Monitor{},
			raw: `{"name":"n","type":"query alert","query":"avg(last_5m):avg:x{*} > 1","options":{"notify_nodata":true}}`},
		{name: "slo threshold typo", v: &datadogV1.ServiceLevelObjectiveRequest{},
			raw: `{"name":"n","type":"metric","query":{"numerator":"sum:x{*}.as_count()","denominator":"sum:x{*}.as_count()"},"thresholds":[{"timeframe":"30d","target":99.9,"warn":99.95}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strictProblems(tt.name, []byte(tt.raw), tt.v); len(got) == 0 {
				t.Errorf("%s passes the strict decoding", tt.raw)
			}
		})
	}
}
