package httpserve

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// TestEveryRejectionHasAName reads the guard's source: every reason passed
// to s.reject must have a name of its own for OnReject, so that a new
// rejection is never counted as "other".
func TestEveryRejectionHasAName(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "middleware.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "reject" || len(call.Args) < 4 {
			return true
		}
		lit, ok := call.Args[3].(*ast.BasicLit)
		if !ok {
			t.Errorf("%s: the reason of s.reject is not a string literal", fset.Position(call.Pos()))
			return true
		}
		reason, _ := strconv.Unquote(lit.Value)
		found++
		if name := reasonName(reason); name == RejectOther {
			t.Errorf("%s: the reason %q has no name in reasonName", fset.Position(call.Pos()), reason)
		}
		return true
	})
	if found < 7 {
		t.Errorf("found %d calls of s.reject, want at least 7", found)
	}
}
