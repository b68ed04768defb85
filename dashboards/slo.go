package dashboards

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vigilhq/vigil/internal/notify/datadog"
)

// SLO is an SLO of vigil.yaml to export as a Datadog metric SLO
// (POST /api/v1/slo): the same objective over the same window, good runs
// (check.run with status pass or warn) over all runs of its checks, as
// vigil's /slos measures it.
type SLO struct {
	Name      string
	Objective float64 // percent
	Window    string  // "7d", "30d" or "90d": Datadog's timeframes
	Checks    []string
}

// sloRequest is a Datadog SLO request, fields in the API's order.
type sloRequest struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Type        string         `json:"type"`
	Query       sloQuery       `json:"query"`
	Thresholds  []sloThreshold `json:"thresholds"`
	Tags        []string       `json:"tags"`
}

type sloQuery struct {
	Numerator   string `json:"numerator"`
	Denominator string `json:"denominator"`
}

type sloThreshold struct {
	Timeframe string  `json:"timeframe"`
	Target    float64 `json:"target"`
}

// SLOQueries returns the numerator (good runs) and denominator (all
// runs) of an SLO over checks, as Datadog metric queries under namespace
// ns: sum:<ns>.check.run{(check:a OR check:b) AND (status:pass OR
// status:warn)}.as_count() over sum:<ns>.check.run{check:a OR
// check:b}.as_count(). Each check is named by the tag the Datadog sink
// sends (datadog.Tag), in the functional boolean syntax only (Datadog
// refuses a filter that mixes it with ',' or '!').
func SLOQueries(ns string, checks []string) (good, all string) {
	terms := make([]string, len(checks))
	for i, id := range checks {
		terms[i] = datadog.Tag("check", id)
	}
	scope := strings.Join(terms, " OR ")
	metric := ns + "." + datadog.MetricRun
	good = fmt.Sprintf("sum:%s{(%s) AND (status:pass OR status:warn)}.as_count()", metric, scope)
	if len(checks) == 1 {
		good = fmt.Sprintf("sum:%s{%s AND (status:pass OR status:warn)}.as_count()", metric, scope)
	}
	return good, fmt.Sprintf("sum:%s{%s}.as_count()", metric, scope)
}

func sloJSON(ns string, s SLO) (json.RawMessage, error) {
	good, all := SLOQueries(ns, s.Checks)
	req := sloRequest{
		Name:        "vigil: " + s.Name,
		Description: fmt.Sprintf("vigil SLO %s (vigil.yaml slos): share of the runs of %s that pass or warn. A fail or error run spends budget.", s.Name, strings.Join(s.Checks, ", ")),
		Type:        "metric",
		Query:       sloQuery{Numerator: good, Denominator: all},
		Thresholds:  []sloThreshold{{Timeframe: s.Window, Target: s.Objective}},
		Tags:        []string{"service:vigil", datadog.Tag("slo", s.Name)},
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("dashboards: slo %s: %w", s.Name, err)
	}
	return b, nil
}

// withSLOs returns the slos.json array raw with an SLO request appended
// for each of slos.
func withSLOs(raw []byte, ns string, slos []SLO) ([]byte, error) {
	if len(slos) == 0 {
		return raw, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("dashboards: slos.json: %w", err)
	}
	for _, s := range slos {
		b, err := sloJSON(ns, s)
		if err != nil {
			return nil, err
		}
		list = append(list, b)
	}
	return json.Marshal(list)
}
