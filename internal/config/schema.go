package config

import (
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/vigilhq/vigil/checks"
)

// SchemaRoot is the section name of vigil.yaml's top-level keys in
// Describe and Sections.
const SchemaRoot = "vigil.yaml"

// Describe returns the documentation of field in section (see Sections),
// or "" when there is none. docs/configuration.md is the source.
type Describe func(section, field string) string

// Schema returns the JSON Schema (draft 2020-12) of vigil.yaml: the Go
// types the loader decodes into, plus each kind's fields under an if/then
// on `kind`. Every mapping rejects unknown fields, as the loader does.
// describe supplies the descriptions. The schema checks the file as written,
// before ${ENV} expansion.
func Schema(kinds checks.Registry, describe Describe) ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true,
		Anonymous:                  true,
		ExpandedStruct:             true,
		Namer:                      schemaName,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == durationType {
				return &jsonschema.Schema{Type: "string", Pattern: durationPattern,
					Description: `A Go duration: a number and a unit (ns, us, ms, s, m, h), e.g. "800ms", "90s", "1h30m".`}
			}
			return nil
		},
	}
	root := r.Reflect(&Config{})
	root.Title = "vigil.yaml"
	root.Description = "The configuration of vigil (https://github.com/vigilhq/vigil): docs/configuration.md."
	defs := root.Definitions

	sections := Sections(kinds)
	check := defs[schemaName(reflect.TypeOf(Check{}))]
	check.AdditionalProperties = nil // closed by the branch of its kind below
	names := kinds.Names()
	kindProp, _ := check.Properties.Get("kind")
	for _, n := range names {
		kindProp.Enum = append(kindProp.Enum, n)
	}
	for _, name := range names {
		kind := kinds[name]
		then := &jsonschema.Schema{Properties: jsonschema.NewProperties(), AdditionalProperties: jsonschema.FalseSchema}
		for p := range check.Properties.KeysFromOldest() {
			then.Properties.Set(p, jsonschema.TrueSchema)
		}
		switch kind.Needs {
		case checks.NeedsSQL, checks.NeedsSQS, checks.NeedsS3:
			then.Required = append(then.Required, "datasource")
		default:
			then.Properties.Set("datasource", jsonschema.FalseSchema)
		}
		if kind.NewSpec != nil {
			spec := r.ReflectFromType(reflect.TypeOf(kind.NewSpec()))
			for n, d := range spec.Definitions {
				defs[n] = d
			}
			spec.Definitions = nil
			def := spec // ExpandedStruct: the spec's own fields are at its root
			if spec.Ref != "" {
				def = spec.Definitions[strings.TrimPrefix(spec.Ref, "#/$defs/")]
			}
			if def == nil || def.Properties == nil {
				return nil, fmt.Errorf("config: schema of kind %s: no properties", name)
			}
			for p, s := range def.Properties.FromOldest() {
				then.Properties.Set(p, s)
			}
			then.Required = append(then.Required, def.Required...)
			describeProps(then, sections[reflect.TypeOf(kind.NewSpec()).Elem()], describe)
			delete(defs, schemaName(reflect.TypeOf(kind.NewSpec()).Elem()))
		}
		check.AllOf = append(check.AllOf, &jsonschema.Schema{
			If:   ifEquals("kind", name),
			Then: then,
		})
	}

	ds := defs[schemaName(reflect.TypeOf(Datasource{}))]
	ds.AllOf = []*jsonschema.Schema{
		{
			If: ifOneOf("driver", DriverSQS, DriverS3),
			Then: &jsonschema.Schema{Required: []string{"region"}, Not: &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
				{Required: []string{"dsn"}}, {Required: []string{"dsn_file"}}, {Required: []string{"allow_privileged"}}}}},
			Else: &jsonschema.Schema{
				AnyOf: []*jsonschema.Schema{{Required: []string{"dsn"}}, {Required: []string{"dsn_file"}}},
				Not:   &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Required: []string{"region"}}, {Required: []string{"endpoint"}}}},
			},
		},
	}

	for t, section := range sections {
		if def := defs[schemaName(t)]; def != nil {
			describeProps(def, section, describe)
		}
	}
	describeProps(root, SchemaRoot, describe)
	return json.MarshalIndent(root, "", "  ")
}

// durationPattern matches what time.ParseDuration accepts.
const durationPattern = `^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

// schemaName names a type in the schema's $defs: config types by their own
// name, a kind's types prefixed with their package ("FreshnessTable").
func schemaName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := path.Base(t.PkgPath())
	if pkg == "config" || pkg == "." || t.Name() == "" {
		return t.Name()
	}
	return strings.ToUpper(pkg[:1]) + pkg[1:] + t.Name()
}

// ifEquals is the condition "key is present and equals value".
func ifEquals(key, value string) *jsonschema.Schema {
	s := &jsonschema.Schema{Properties: jsonschema.NewProperties(), Required: []string{key}}
	s.Properties.Set(key, &jsonschema.Schema{Const: value})
	return s
}

// ifOneOf is the condition "key is present and is one of values".
func ifOneOf(key string, values ...string) *jsonschema.Schema {
	s := &jsonschema.Schema{Properties: jsonschema.NewProperties(), Required: []string{key}}
	enum := make([]any, len(values))
	for i, v := range values {
		enum[i] = v
	}
	s.Properties.Set(key, &jsonschema.Schema{Enum: enum})
	return s
}

// describeProps sets the description of each property of s from section.
func describeProps(s *jsonschema.Schema, section string, describe Describe) {
	if s == nil || s.Properties == nil || describe == nil {
		return
	}
	for name, p := range s.Properties.FromOldest() {
		if p == jsonschema.TrueSchema || p == jsonschema.FalseSchema {
			continue
		}
		if d := describe(section, name); d != "" {
			p.Description = d
		}
	}
}

// Sections names the part of vigil.yaml each yaml-tagged struct type
// describes: SchemaRoot for Config, "server", "sinks.slack",
// "datasources.<name>", "auth.users[]", "checks[]", and "kind: <name>" for
// a kind's Spec ("kind: freshness tables[]" below it). docs/configuration.md
// documents each section's fields under the same name.
func Sections(kinds checks.Registry) map[reflect.Type]string {
	out := map[reflect.Type]string{}
	var walk func(t reflect.Type, section string)
	walk = func(t reflect.Type, section string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == durationType {
			return
		}
		if _, seen := out[t]; seen {
			return
		}
		out[t] = section
		fields, _ := structFields(t)
		for name, ft := range fields {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			sub := section + " " + name
			if section == SchemaRoot {
				sub = name
			} else if !strings.HasPrefix(section, "kind: ") {
				sub = section + "." + name
			}
			switch ft.Kind() {
			case reflect.Struct:
				walk(ft, sub)
			case reflect.Slice:
				walk(ft.Elem(), sub+"[]")
			case reflect.Map:
				walk(ft.Elem(), sub+".<name>")
			}
		}
	}
	walk(reflect.TypeOf(Config{}), SchemaRoot)
	for _, name := range kinds.Names() {
		if k := kinds[name]; k.NewSpec != nil {
			walk(reflect.TypeOf(k.NewSpec()), "kind: "+name)
		}
	}
	return out
}
