package tools

import (
	"context"
	"errors"
	"testing"
)

type subjectKey struct{}

func as(person string) context.Context {
	return context.WithValue(context.Background(), subjectKey{}, person)
}

// TestSealsAreBoundToThePerson mints a cursor and a delete confirmation for
// one person and presents them as another: both are refused, and the
// person who received them can still use them.
func TestSealsAreBoundToThePerson(t *testing.T) {
	ts := NewToolset(nil, Options{Subject: func(ctx context.Context) string {
		s, _ := ctx.Value(subjectKey{}).(string)
		return s
	}})
	cursor := ts.encodeCursor(as("alice"), listCursor{Version: cursorVersion, Query: listQuery{Sort: sortRefreshExpiry, Within: 14, Limit: 2}})
	state := ts.sealState(as("alice"), deleteState{UUID: "u", Label: "l", IssuedAt: 1})
	tests := []struct {
		name   string
		person string
		ok     bool
	}{
		{"the person who received them", "alice", true},
		{"another person", "bob", false},
		{"no person", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cerr := ts.decodeCursor(as(tt.person), cursor)
			_, serr := ts.openState(as(tt.person), state)
			if tt.ok && (cerr != nil || serr != nil) {
				t.Fatalf("refused: cursor %v, confirmation %v", cerr, serr)
			}
			if !tt.ok && (!errors.Is(cerr, errBadCursor) || !errors.Is(serr, errSealBroken)) {
				t.Fatalf("accepted for %q: cursor %v, confirmation %v", tt.person, cerr, serr)
			}
		})
	}
	// Without Subject (client tokens), values are not bound to anyone, as before.
	plain := NewToolset(nil, Options{StateKey: ts.stateKey})
	if _, err := plain.decodeCursor(as("anyone"), plain.encodeCursor(context.Background(), listCursor{Version: cursorVersion, Query: listQuery{Sort: sortRefreshExpiry, Within: 14, Limit: 2}})); err != nil {
		t.Errorf("an unbound cursor: %v", err)
	}
}
