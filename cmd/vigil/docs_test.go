package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/docs"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/runbook"
)

// repoRoot is the repository, seen from this package's folder.
const repoRoot = "../.."

// TestDocsDocumentEveryField fails when a field of vigil.yaml exists in the
// code but not in docs/configuration.md (issue 15: "a newcomer can write a
// working config for each kind from docs/ alone"). It is generic over the
// types: it walks every yaml-tagged struct the loader decodes into (the
// config's sections and every registered kind's Spec), and scans the source
// of internal/config and checks/ for yaml tags the walk does not reach.
func TestDocsDocumentEveryField(t *testing.T) {
	documented := docs.Fields()
	reachable := map[string]bool{}
	for typ, section := range config.Sections(kinds()) {
		reachable[typ.PkgPath()+"."+typ.Name()] = true
		for _, name := range yamlFields(typ, reachable) {
			if _, ok := documented[section][name]; !ok {
				t.Errorf("%s.%s: field %q is not in the %q table of docs/configuration.md (<!-- fields: %s --> then | `%s` | type | default | description |)",
					typ.PkgPath(), typ.Name(), name, section, section, name)
			}
		}
	}

	anywhere := map[string]bool{}
	for _, fields := range documented {
		for name := range fields {
			anywhere[name] = true
		}
	}
	for _, dir := range []string{"internal/config", "checks"} {
		for _, tf := range yamlTaggedFields(t, filepath.Join(repoRoot, dir)) {
			if !reachable[tf.typ] {
				t.Errorf("%s: type %s has the yaml field %q but vigil.yaml does not reach it: decode it from the config (config.Sections walks from Config and the kinds' Specs)", tf.pos, tf.typ, tf.name)
			}
			if !anywhere[tf.name] {
				t.Errorf("%s: yaml field %q of %s is not documented in docs/configuration.md", tf.pos, tf.name, tf.typ)
			}
		}
	}

	// Every property of `vigil schema` carries its description from the docs.
	var s map[string]any
	if err := json.Unmarshal(schemaJSON(t), &s); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for name, p := range props {
					if p, ok := p.(map[string]any); ok && p["description"] == nil {
						t.Errorf("schema %s.properties.%s has no description", path, name)
					}
				}
			}
			for k, sub := range v {
				if k != "if" { // a condition, not a field
					walk(path+"."+k, sub)
				}
			}
		case []any:
			for i, sub := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), sub)
			}
		}
	}
	walk("$", s)
}

// yamlFields lists the YAML names of a struct's fields, inline structs
// flattened (as yaml.v3 reads them) and marked reachable.
func yamlFields(t reflect.Type, reachable map[string]bool) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case !f.IsExported() && !f.Anonymous, tag == "-":
		case strings.Contains(opts, "inline"):
			reachable[f.Type.PkgPath()+"."+f.Type.Name()] = true
			out = append(out, yamlFields(f.Type, reachable)...)
		case name != "":
			out = append(out, name)
		}
	}
	return out
}

type taggedField struct {
	pos, typ, name string
}

// yamlTaggedFields parses the non-test Go files under dir and returns each
// struct field with a yaml:"name" tag.
func yamlTaggedFields(t *testing.T, dir string) []taggedField {
	t.Helper()
	var out []taggedField
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, filepath.Dir(path))
		pkg := "github.com/vigilhq/vigil/" + filepath.ToSlash(rel)
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, field := range st.Fields.List {
				if field.Tag == nil {
					continue
				}
				tag, _ := strconv.Unquote(field.Tag.Value)
				name, _, _ := strings.Cut(reflect.StructTag(tag).Get("yaml"), ",")
				if name == "" || name == "-" {
					continue
				}
				out = append(out, taggedField{pos: fset.Position(field.Pos()).String(), typ: pkg + "." + ts.Name.Name, name: name})
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no yaml-tagged fields under %s: the scan is broken", dir)
	}
	return out
}

// schemaJSON is `vigil schema`'s output.
func schemaJSON(t *testing.T) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), []string{"schema"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("vigil schema: exit %d: %s", code, stderr.String())
	}
	return stdout.Bytes()
}

// compiledSchema compiles `vigil schema` with a JSON Schema 2020-12
// validator (santhosh-tekuri/jsonschema, which passes the official JSON
// Schema test suite): a schema that is not valid 2020-12 fails here.
func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("vigil.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("vigil.schema.json")
	if err != nil {
		t.Fatalf("vigil schema does not compile as JSON Schema 2020-12: %v", err)
	}
	return sch
}

// validateYAML checks a YAML document, as written, against the schema.
func validateYAML(sch *jsonschema.Schema, text string) error {
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// TestSchemaRejects: the schema holds a file to what the loader accepts.
// Each document is one mistake the loader reports; a schema that let any
// through would not warn the editor's user.
func TestSchemaRejects(t *testing.T) {
	sch := compiledSchema(t)
	ok := "checks:\n  - {id: api, kind: http, url: 'http://x'}\n"
	if err := validateYAML(sch, ok); err != nil {
		t.Fatalf("a minimal valid config is rejected: %v", err)
	}
	tests := []struct{ name, doc string }{
		{"unknown top-level key", "servr: {}\n" + ok},
		{"unknown server key", "server: {listen: 127.0.0.1:1, tls: true}\n" + ok},
		{"no checks", "server: {listen: 127.0.0.1:1}\n"},
		{"unknown kind", "checks:\n  - {id: a, kind: nosuch}\n"},
		{"field of another kind", "checks:\n  - {id: a, kind: http, url: 'http://x', query: SELECT 1}\n"},
		{"misspelt kind field", "checks:\n  - {id: a, kind: http, urll: 'http://x'}\n"},
		{"missing required kind field", "checks:\n  - {id: a, kind: http}\n"},
		{"http with a datasource", "checks:\n  - {id: a, kind: http, url: 'http://x', datasource: db}\n"},
		{"sql without a datasource", "checks:\n  - {id: a, kind: sql, query: SELECT 1}\n"},
		{"bad id", "checks:\n  - {id: Bad_ID, kind: http, url: 'http://x'}\n"},
		{"duration as a number", "checks:\n  - {id: a, kind: http, url: 'http://x', timeout: 5}\n"},
		{"duration in words", "checks:\n  - {id: a, kind: http, url: 'http://x', timeout: 5 minutes}\n"},
		{"nested unknown field", "datasources: {db: {driver: sqlite, dsn: x.db}}\nchecks:\n  - {id: a, kind: freshness, datasource: db, tables: [{name: t, query: q, wan_after: 1h}]}\n"},
		{"sqs without region", "datasources: {q: {driver: sqs}}\n" + ok},
		{"sql datasource without dsn", "datasources: {db: {driver: postgres}}\n" + ok},
		{"sqs with a dsn", "datasources: {q: {driver: sqs, region: us-east-1, dsn: x}}\n" + ok},
		{"unknown role", "auth: {users: [{name: a, password_hash: x, role: root}]}\n" + ok},
		{"bad expect_status", "checks:\n  - {id: a, kind: http, url: 'http://x', expect_status: ok}\n"},
	}
	for _, tt := range tests {
		if err := validateYAML(sch, tt.doc); err == nil {
			t.Errorf("%s: the schema accepts\n%s", tt.name, tt.doc)
		}
	}
}

var (
	fence   = regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```")
	envRef  = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	fileRef = regexp.MustCompile(`(\w+_file): *"?([^",}\s]+)`)
)

// TestDocsExamplesLoad: every YAML example in docs/ loads with the real
// loader and passes the schema; every markdown runbook example parses.
// Examples that show one section get a minimal checks list; variables
// they reference are set, and files they name are written.
func TestDocsExamplesLoad(t *testing.T) {
	sch := compiledSchema(t)
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil || len(pages) < 2 {
		t.Fatalf("docs pages: %v %v", pages, err)
	}
	n := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range fence.FindAllStringSubmatch(string(b), -1) {
			lang, body := m[1], m[2]
			name := fmt.Sprintf("%s#%d", filepath.Base(page), i)
			switch lang {
			case "yaml":
				n++
				t.Run(name, func(t *testing.T) { loadDocExample(t, sch, body) })
			case "markdown":
				n++
				if _, ps := runbook.Parse("example", name, []byte(body)); len(ps) > 0 {
					t.Errorf("%s: runbook example has problems: %v", name, ps)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("found only %d examples in docs/: the extraction is broken", n)
	}
}

func loadDocExample(t *testing.T, sch *jsonschema.Schema, body string) {
	dir := t.TempDir()
	for _, m := range envRef.FindAllStringSubmatch(body, -1) {
		t.Setenv(m[1], exampleEnvValue(m[1]))
	}
	files := map[string]string{}
	if regexp.MustCompile(`(?m)^endorsements:`).MatchString(body) { // a rules file
		files["rules.yaml"] = body
		body = "datasources: {db: {driver: sqlite, dsn: x.db}}\nchecks:\n  - {id: doc-example, kind: endorsements, datasource: db, rules: rules.yaml, policies_query: q, endorsements_query: q}\n"
	} else if !regexp.MustCompile(`(?m)^checks:`).MatchString(body) {
		body += "checks:\n  - {id: doc-example, kind: http, url: 'http://127.0.0.1:1/'}\n"
	}
	for _, m := range fileRef.FindAllStringSubmatch(body, -1) {
		files[m[2]] = exampleFileContent(m[1])
	}
	files["vigil.yaml"] = body
	writeFiles(t, dir, files)
	if _, err := config.Load(filepath.Join(dir, "vigil.yaml"), kinds()); err != nil {
		t.Errorf("does not load:\n%s\n%v", body, err)
	}
	if err := validateYAML(sch, body); err != nil {
		t.Errorf("the schema rejects it:\n%s\n%v", body, err)
	}
}

// exampleEnvValue is a plausible value for an environment variable a docs
// example references, by its name.
func exampleEnvValue(name string) string {
	switch {
	case strings.Contains(name, "URL"), strings.Contains(name, "ENDPOINT"), strings.Contains(name, "SENTRY"):
		return "https://key@example.com/1"
	case strings.HasSuffix(name, "DSN"):
		return "postgres://vigil@127.0.0.1:5432/vigil"
	}
	return "secret-value"
}

// exampleFileContent is what a *_file of a docs example holds.
func exampleFileContent(key string) string {
	switch key {
	case "password_hash_file":
		return "$2a$04$hLIqOb.al/CtJ421MohJguauucW3KkTBC94rqUkgSYqop95Sy4OA6\n"
	case "webhook_url_file":
		return "https://hooks.slack.com/services/T0/B0/X\n"
	case "dsn_file":
		return "postgres://vigil@127.0.0.1:5432/vigil\n"
	}
	return "an-api-token-of-at-least-thirty-two-characters\n"
}
