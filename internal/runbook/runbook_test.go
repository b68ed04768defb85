package runbook_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vigilhq/vigil/internal/runbook"
	"github.com/vigilhq/vigil/runbooks"
)

const complete = "## Meaning\nm\n## Impact\ni\n## Diagnosis\nd\n## Mitigation\nx\n## Escalation\ne\n"

func problems(ps []runbook.Problem) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, "\n")
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, text string
		want       string // every problem, one per line
		checks     []string
	}{
		{name: "complete", text: "---\ntitle: T\nchecks: [a, b]\n---\n" + complete, checks: []string{"a", "b"}},
		{name: "crlf", text: strings.ReplaceAll("---\ntitle: T\nchecks: [a]\n---\n"+complete, "\n", "\r\n"), checks: []string{"a"}},
		{name: "no front matter", text: complete, want: "rb.md:1: runbook has no front matter (--- title, checks ---)\nrb.md:1: runbook has no title in its front matter"},
		{name: "unclosed front matter", text: "---\ntitle: T\n" + complete, want: "rb.md:1: front matter is not closed by a line '---'\nrb.md:1: runbook has no title in its front matter"},
		{name: "unknown front matter field", text: "---\ntitle: T\nowner: x\n---\n" + complete, want: `rb.md:3: unknown front matter field "owner"`},
		{name: "checks not a list", text: "---\ntitle: T\nchecks: {a: 1}\n---\n" + complete, want: "rb.md:3: checks must be a list of check ids"},
		{
			name:   "missing sections",
			text:   "---\ntitle: T\nchecks: [a]\n---\n## Meaning\n## Impact\n",
			want:   "rb.md:1: runbook has no \"Diagnosis\" section\nrb.md:1: runbook has no \"Mitigation\" section\nrb.md:1: runbook has no \"Escalation\" section",
			checks: []string{"a"},
		},
		{
			name: "headings inside code fences do not count",
			text: "---\ntitle: T\n---\n## Meaning\n## Impact\n## Diagnosis\n## Mitigation\n```\n## Escalation\n```\n",
			want: "rb.md:1: runbook has no \"Escalation\" section",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, ps := runbook.Parse("rb", "rb.md", []byte(tt.text))
			if got := problems(ps); got != tt.want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, tt.want)
			}
			if strings.Join(rb.Checks, ",") != strings.Join(tt.checks, ",") {
				t.Errorf("checks = %v, want %v", rb.Checks, tt.checks)
			}
		})
	}
}

func TestSectionLines(t *testing.T) {
	rb, _ := runbook.Parse("rb", "rb.md", []byte("---\ntitle: T\n---\n\n## Meaning\n"+complete[len("## Meaning\nm\n"):]))
	if rb.Sections["Meaning"] != 5 {
		t.Errorf("Meaning at line %d, want 5", rb.Sections["Meaning"])
	}
}

func TestValidate(t *testing.T) {
	fsys := fstest.MapFS{
		"covered.md":  {Data: []byte("---\ntitle: C\nchecks: [a]\n---\n" + complete)},
		"listing.md":  {Data: []byte("---\ntitle: L\nchecks: [b, ghost]\n---\n" + complete)},
		"README.md":   {Data: []byte("not a runbook")},
		"notes.txt":   {Data: []byte("ignored")},
		"sub/deep.md": {Data: []byte("ignored: only the top folder counts")},
	}
	set, err := runbook.LoadFS(fsys, "runbooks")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Runbooks) != 2 {
		t.Fatalf("loaded %d runbooks, want 2", len(set.Runbooks))
	}
	ps := set.Validate([]runbook.CheckRef{
		{ID: "a", Runbook: "covered", File: "vigil.yaml", Line: 3},
		{ID: "b", File: "vigil.yaml", Line: 7},                      // covered by listing.md's front matter
		{ID: "c", File: "vigil.yaml", Line: 9},                      // no runbook at all
		{ID: "d", Runbook: "missing", File: "vigil.yaml", Line: 12}, // names a file that is not there
	})
	got := problems(ps)
	// A check without a runbook still runs (issue 15: the same warning in
	// validate, run and serve); the others are errors for validate.
	for _, p := range ps {
		if want := strings.Contains(p.Msg, "has no runbook"); p.Warning != want {
			t.Errorf("%s: Warning = %v, want %v", p, p.Warning, want)
		}
	}
	want := strings.Join([]string{
		`runbooks/listing.md:3: runbook names unknown check "ghost"`,
		`vigil.yaml:9: check "c" has no runbook (set runbook: or list it in a runbook's checks)`,
		`vigil.yaml:12: check "d": runbook "missing" not found (want missing.md in the runbooks folder)`,
	}, "\n")
	if got != want {
		t.Errorf("Validate:\n%s\nwant:\n%s", got, want)
	}
	if rb, ok := set.ForCheck("b", ""); !ok || rb.Name != "listing" {
		t.Errorf("ForCheck(b) = %v, %v; want listing", rb.Name, ok)
	}
}

func TestMissingFolderIsEmpty(t *testing.T) {
	set, err := runbook.LoadFS(fstest.MapFS{}, "runbooks")
	if err != nil || len(set.Runbooks) != 0 {
		t.Fatalf("LoadFS(empty) = %v, %v", set.Runbooks, err)
	}
}

// TestShippedRunbooks guards the runbooks vigil ships: each parses with
// every section and covers at least one check.
func TestShippedRunbooks(t *testing.T) {
	set, err := runbook.LoadFS(runbooks.FS, "runbooks")
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Runbooks) < 7 {
		t.Errorf("only %d shipped runbooks", len(set.Runbooks))
	}
	if len(set.Problems) > 0 {
		t.Errorf("shipped runbooks have problems:\n%s", problems(set.Problems))
	}
	for name, rb := range set.Runbooks {
		if len(rb.Checks) == 0 {
			t.Errorf("%s covers no check", name)
		}
	}
}
