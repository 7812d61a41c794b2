package tools

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"
)

// toolSpec is what a tool declares besides the types of its arguments and
// its result.
type toolSpec struct {
	name        string
	title       string
	description string
	// readOnly, destructive and idempotent are its annotations' hints;
	// every tool reaches Plannr, so openWorld is always true.
	readOnly, destructive, idempotent bool
}

// handler answers a call whose arguments have been decoded into In: with
// the structured result and the text for the model, or an error, which
// newTool words for the model. Wrap an error with about to say what the
// call was about, or with asIs to answer with a result of its own.
type handler[In, Out any] func(ctx context.Context, req mcp.CallToolRequest, in In) (Out, string, error)

// newTool builds a tool from its spec and its typed handler: the input and
// output schemas from In and Out, the required arguments from the input
// schema, the strict decoding of arguments, and the wording of errors,
// once for every tool.
func newTool[In, Out any](t *Toolset, spec toolSpec, handle handler[In, Out]) Tool {
	input := schemaFor[In]()
	required := requiredOf(input)
	return Tool{
		Definition: mcp.Tool{
			Name:            spec.name,
			Title:           spec.title,
			Description:     spec.description,
			RawInputSchema:  input,
			RawOutputSchema: schemaFor[Out](),
			Annotations: mcp.ToolAnnotation{
				Title:           spec.title,
				ReadOnlyHint:    mcp.ToBoolPtr(spec.readOnly),
				DestructiveHint: mcp.ToBoolPtr(spec.destructive),
				IdempotentHint:  mcp.ToBoolPtr(spec.idempotent),
				OpenWorldHint:   mcp.ToBoolPtr(true),
			},
		},
		Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			in, err := decodeArguments[In](req, required...)
			if err != nil {
				return t.errorResult(ctx, err, reading), nil
			}
			out, text, err := handle(ctx, req, in)
			if err != nil {
				return t.failure(ctx, err), nil
			}
			return structuredResult(out, text), nil
		},
	}
}

// requiredOf lists the required properties of a generated object schema.
func requiredOf(schema json.RawMessage) []string {
	var s struct {
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(schema, &s) // schemaFor's own output
	return s.Required
}

// aboutError is a handler's error with what its call was about.
type aboutError struct {
	err     error
	subject subject
}

func (e *aboutError) Error() string { return e.err.Error() }
func (e *aboutError) Unwrap() error { return e.err }

// about says that the call err ended was about s: a rename or a delete of
// a connection, whose outcome the error's wording then states.
func about(err error, s subject) error { return &aboutError{err: err, subject: s} }

// resultError is a result a handler answers with instead of its Out: a
// refusal worded by the tool, or a request for the person's input.
type resultError struct{ res *mcp.CallToolResult }

func (e *resultError) Error() string { return "answered with a result of its own" }

// asIs answers the call with res.
func asIs(res *mcp.CallToolResult) error { return &resultError{res: res} }

// failure is the result of a call a handler ended with err.
func (t *Toolset) failure(ctx context.Context, err error) *mcp.CallToolResult {
	var (
		re *resultError
		ae *aboutError
	)
	switch {
	case errors.As(err, &re):
		return re.res
	case errors.As(err, &ae):
		return t.errorResult(ctx, ae.err, ae.subject)
	default:
		return t.errorResult(ctx, err, reading)
	}
}

// structuredResult returns a result whose structuredContent is out and
// whose text content is the model-friendly rendering.
func structuredResult(out any, text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{
		Content:           []mcp.Content{mcp.NewTextContent(text)},
		StructuredContent: out,
	}
}
