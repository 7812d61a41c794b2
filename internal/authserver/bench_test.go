package authserver

import (
	"context"
	"testing"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// BenchmarkVerify is the token check of every MCP request in oauth mode:
// the access token's hash looked up in the SQLite store with its grant and
// person, and its audience, expiry and revocation checked. Run with
// -benchtime 20000x; ns/op is its CPU cost, as it runs on one goroutine
// without waiting on anything but the database file.
func BenchmarkVerify(b *testing.B) {
	e := newEnv(b)
	id, _ := e.register(true, clientRedirect)
	code, verifier := e.signIn(id, sandbox.OwnerEmail)
	access, _ := e.tokens(id, code, verifier)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := e.srv.Verify(ctx, access); err != nil {
			b.Fatal(err)
		}
	}
}
