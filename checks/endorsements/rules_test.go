package endorsements_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/endorsements"
)

// problemLines validates spec against a config directory holding the given
// rules file and renders each problem as "file:line: msg" (file relative to
// the directory) or "field: msg".
func problemLines(t *testing.T, spec endorsements.Spec, rulesFile string, content *string) []string {
	t.Helper()
	dir := t.TempDir()
	if content != nil {
		if err := os.WriteFile(filepath.Join(dir, rulesFile), []byte(*content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, p := range spec.Validate(checks.SpecEnv{BaseDir: dir}) {
		if p.File == "" {
			out = append(out, fmt.Sprintf("%s: %s", p.Field, p.Msg))
			continue
		}
		rel, err := filepath.Rel(dir, p.File)
		if err != nil || !strings.HasPrefix(p.File, dir) {
			t.Fatalf("problem file %q is not inside the config directory %q", p.File, dir)
		}
		out = append(out, fmt.Sprintf("%s:%d: %s", rel, p.Line, p.Msg))
	}
	return out
}

func TestValidateRulesFile(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		want  []string
	}{
		{
			name: "valid rules, yes and no unquoted",
			rules: `endorsements:
  - code: EN-FLOOD-01
    when: {coverage: [flood], state: [FL, LA]}
    auto_attach: {new: yes, renewal: no, reissue: copy}
  - code: EN-ALL
  - code: EN-QUOTED
    when: {state: TX}
    auto_attach: {new: "yes", renewal: 'no'}
`,
		},
		{
			name: "unknown transaction key and value",
			rules: `endorsements:
  - code: EN-1
    auto_attach:
      new: yes
      renew: yes
      reissue: true
      renewal: Yes
`,
			want: []string{
				`rules.yaml:5: unknown transaction "renew" in auto_attach (want new, renewal or reissue)`,
				`rules.yaml:6: auto_attach.reissue must be yes, no or copy, got "true"`,
				`rules.yaml:7: auto_attach.renewal must be yes, no or copy, got "Yes"`,
			},
		},
		{
			name: "auto_attach not a mapping, value a list, transaction twice",
			rules: `endorsements:
  - code: EN-1
    auto_attach: [new]
  - code: EN-2
    auto_attach:
      new: [yes]
      renewal: yes
      renewal: no
`,
			want: []string{
				`rules.yaml:3: auto_attach must be a mapping of new, renewal or reissue to yes, no or copy`,
				`rules.yaml:6: auto_attach.new must be yes, no or copy`,
				`rules.yaml:8: duplicate transaction "renewal" (first at line 7)`,
			},
		},
		{
			name: "duplicate code names the first line",
			rules: `endorsements:
  - code: EN-1
    auto_attach: {new: yes}
  - code: EN-2
  - code: EN-1
    auto_attach: {renewal: yes}
`,
			want: []string{`rules.yaml:5: duplicate code "EN-1" (first at line 2)`},
		},
		{
			name: "malformed when",
			rules: `endorsements:
  - code: EN-1
    when: [state, FL]
  - code: EN-2
    when: flood
  - code: EN-3
    when:
      state: {FL: 1}
      agency: []
      coverage:
        - flood
        - [wind]
      zone: ~
      tier: [1, 2]
      tier: [3]
`,
			want: []string{
				`rules.yaml:3: when must be a mapping of key to a value or a list of values`,
				`rules.yaml:5: when must be a mapping of key to a value or a list of values`,
				`rules.yaml:8: when.state must be a value or a list of values`,
				`rules.yaml:9: when.agency lists no values`,
				`rules.yaml:12: when.coverage must be a value or a list of values`,
				`rules.yaml:13: when.zone must be a value or a list of values`,
				`rules.yaml:15: duplicate when key "tier" (first at line 14)`,
			},
		},
		{
			name: "missing and empty code",
			rules: `endorsements:
  - when: {state: FL}
    auto_attach: {new: yes}
  - code: ""
  - code: [EN-1]
  - code:
`,
			want: []string{
				`rules.yaml:2: rule has no code`,
				`rules.yaml:4: rule has an empty code`,
				`rules.yaml:5: code must be a single value`,
				`rules.yaml:6: rule has no code`,
			},
		},
		{
			name: "unknown fields",
			rules: `version: 2
endorsements:
  - code: EN-1
    auto_attch: {new: yes}
    code: EN-2
`,
			want: []string{
				`rules.yaml:1: unknown field "version" (want endorsements)`,
				`rules.yaml:4: unknown field "auto_attch" in rule (want code, when or auto_attach)`,
				`rules.yaml:5: duplicate field "code" (first at line 3)`,
			},
		},
		{
			name:  "invalid YAML",
			rules: "endorsements:\n\t- code: EN-1\n",
			want:  []string{`rules.yaml:2: invalid YAML: found character that cannot start any token`},
		},
		{
			name:  "invalid YAML without a line",
			rules: "endorsements: code: EN-1\n",
			want:  []string{`rules.yaml:0: invalid YAML: mapping values are not allowed in this context`},
		},
		{
			name:  "empty file",
			rules: "",
			want:  []string{`rules.yaml:1: rules file is empty: want a mapping with an endorsements list`},
		},
		{
			name:  "no endorsements list",
			rules: "# nothing\nother: 1\n",
			want: []string{
				`rules.yaml:2: unknown field "other" (want endorsements)`,
				`rules.yaml:2: rules file has no endorsements list`,
			},
		},
		{
			name:  "endorsements not a list",
			rules: "endorsements:\n  code: EN-1\n",
			want:  []string{`rules.yaml:2: endorsements must be a list of rules`},
		},
		{
			name:  "rule not a mapping",
			rules: "endorsements:\n  - EN-1\n",
			want:  []string{`rules.yaml:2: rule must be a mapping of code, when and auto_attach`},
		},
		{
			name:  "top level not a mapping",
			rules: "- code: EN-1\n",
			want:  []string{`rules.yaml:1: rules file must be a mapping with an endorsements list`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := endorsements.Spec{Rules: "rules.yaml", PoliciesQuery: "SELECT 1", EndorsementsQuery: "SELECT 1"}
			got := problemLines(t, spec, "rules.yaml", &tt.rules)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateSpec(t *testing.T) {
	one, two := 1, 2
	valid := "endorsements:\n  - code: EN-1\n    auto_attach: {new: yes}\n"
	tests := []struct {
		name    string
		spec    endorsements.Spec
		content *string
		want    []string
	}{
		{
			name:    "complete",
			spec:    endorsements.Spec{Rules: "rules.yaml", PoliciesQuery: "q", EndorsementsQuery: "q", Thresholds: checks.Thresholds{WarnAbove: &one, FailAbove: &two}},
			content: &valid,
		},
		{
			name: "required fields missing",
			spec: endorsements.Spec{AttributesQuery: "q"},
			want: []string{
				"rules: rules is required",
				"policies_query: policies_query is required",
				"endorsements_query: endorsements_query is required",
			},
		},
		{
			name:    "bad thresholds",
			spec:    endorsements.Spec{Rules: "rules.yaml", PoliciesQuery: "q", EndorsementsQuery: "q", Thresholds: checks.Thresholds{WarnAbove: &two, FailAbove: &one}},
			content: &valid,
			want:    []string{"warn_above: warn_above (2) must not be greater than fail_above (1)"},
		},
		{
			name: "rules file missing",
			spec: endorsements.Spec{Rules: "rules.yaml", PoliciesQuery: "q", EndorsementsQuery: "q"},
			want: []string{"rules.yaml:0: cannot read rules file: no such file or directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemLines(t, tt.spec, "rules.yaml", tt.content)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateRulesPathRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rules"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules", "e.yaml"), []byte("endorsements:\n  - code: X\n    auto_attach: {new: maybe}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := endorsements.Spec{Rules: "rules/e.yaml", PoliciesQuery: "q", EndorsementsQuery: "q"}
	ps := spec.Validate(checks.SpecEnv{BaseDir: dir})
	want := checks.Problem{File: filepath.Join(dir, "rules/e.yaml"), Line: 3, Msg: `auto_attach.new must be yes, no or copy, got "maybe"`}
	if len(ps) != 1 || ps[0] != want {
		t.Fatalf("problems = %+v, want [%+v]", ps, want)
	}
}
