package httpserve

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEveryRejectionHasAName reads the guard's source: every reason passed
// to s.reject must have a name of its own for OnReject, so that a new
// rejection is never counted as "other".
func TestEveryRejectionHasAName(t *testing.T) {
	fset := token.NewFileSet()
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, name := range sources {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		found += rejections(t, fset, file)
	}
	if found < 10 {
		t.Errorf("found %d calls of s.reject, want at least 10", found)
	}
}

// rejections checks the reasons of the s.reject calls in file and counts
// them.
func rejections(t *testing.T, fset *token.FileSet, file *ast.File) int {
	t.Helper()
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
	return found
}
