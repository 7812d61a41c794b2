package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// argumentError is a bad tool argument, worded for the model that sent it.
type argumentError struct{ msg string }

func (e *argumentError) Error() string { return e.msg }

func badArgument(format string, a ...any) error {
	return &argumentError{msg: fmt.Sprintf(format, a...)}
}

// decodeArguments decodes a call's arguments into T strictly: they must be a
// JSON object, every key must be a known argument, every value of the right
// type, and every argument in required must be present.
func decodeArguments[T any](req mcp.CallToolRequest, required ...string) (T, error) {
	var out T
	raw := req.Params.RawArguments
	if len(raw) == 0 && req.Params.Arguments != nil {
		var err error
		if raw, err = json.Marshal(req.Params.Arguments); err != nil {
			return out, badArgument("arguments could not be read: %v", err)
		}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return out, badArgument("arguments must be a JSON object with the fields %s", knownFields[T]())
	}
	for _, name := range required {
		v, ok := fields[name]
		if !ok || string(v) == "null" {
			return out, badArgument("missing required argument %q", name)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return out, describeDecodeError[T](err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return out, badArgument("arguments must be a single JSON object")
	}
	return out, nil
}

func describeDecodeError[T any](err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return badArgument("arguments must be a JSON object with the fields %s", knownFields[T]())
		}
		return badArgument("argument %q must be a %s, not a JSON %s", field, jsonKind(typeErr.Type), typeErr.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badArgument("unknown argument %s: this tool accepts only %s", name, knownFields[T]())
	}
	return badArgument("arguments could not be read: %v", err)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	default:
		return "object"
	}
}

// knownFields lists T's JSON argument names for error messages.
func knownFields[T any]() string {
	t := reflect.TypeFor[T]()
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, fmt.Sprintf("%q", name))
		}
	}
	if len(names) == 0 {
		return "{} (no arguments)"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
