package tools

import (
	"encoding/json"
	"fmt"

	"github.com/invopop/jsonschema"
)

// schemaFor generates a self-contained JSON Schema for T: no $ref into $defs
// (some clients mishandle them), no $schema or $id noise, and
// additionalProperties false on every object. It runs once per tool at start-up.
func schemaFor[T any]() json.RawMessage {
	r := jsonschema.Reflector{
		DoNotReference:             true,
		ExpandedStruct:             true,
		RequiredFromJSONSchemaTags: true,
	}
	var zero T
	s := r.Reflect(&zero)
	s.Version = ""
	s.ID = ""
	b, err := json.Marshal(s)
	if err != nil {
		// Reflection over our own static types cannot fail at run time
		// unless a struct tag is wrong, which the tool snapshots catch.
		panic(fmt.Sprintf("tools: schema for %T: %v", zero, err))
	}
	return b
}
