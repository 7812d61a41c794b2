package tools

import (
	"encoding/json"
	"fmt"
	"reflect"
)

//go:generate env UPDATE_SCHEMAS=true go test -run ^TestGeneratedSchemas$ .

// schemaFor is T's JSON Schema: self-contained (no $ref into $defs, which
// some clients mishandle), with no $schema or $id noise, and with
// additionalProperties false on every object. The schemas are generated
// from the Go types by reflection when the code is generated, not at
// start-up (schemas_gen.go; TestGeneratedSchemas checks that they are the
// types' current schemas and regenerates them with UPDATE_SCHEMAS=true).
func schemaFor[T any]() json.RawMessage {
	s := generatedSchema(reflect.TypeFor[T]())
	if s == "" {
		// A tool whose types have no generated schema: every test that
		// builds the toolset fails here until go generate ./tools is run.
		panic(fmt.Sprintf("tools: no generated schema for %s: add it to schemaTypes in schema_test.go and run go generate ./tools", reflect.TypeFor[T]()))
	}
	return json.RawMessage(s)
}
