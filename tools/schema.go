package tools

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// schemaFor returns the JSON Schema of T, one of the tools' input and
// output types. The schemas are generated from the Go types when they
// change, not at every start: schemas_gen.go holds them, and
// TestGeneratedSchemas fails when it no longer matches the types (regenerate
// with UPDATE_SCHEMAS=true go test ./tools/). Reflecting over the types
// took about 1.5 ms of every start, and linked the reflector into the
// binary.
func schemaFor[T any]() json.RawMessage {
	name := reflect.TypeFor[T]().Name()
	s, ok := generatedSchema(name)
	if !ok {
		panic(fmt.Sprintf("tools: no generated schema for %s: add it to schemaTypes in schema_test.go and run UPDATE_SCHEMAS=true go test ./tools/", name))
	}
	return json.RawMessage(s)
}
