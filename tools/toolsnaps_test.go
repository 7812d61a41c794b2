package tools

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestToolSnapshots compares each tool's full definition with its golden
// file, so that a change to a name, description, annotation or schema is
// always deliberate. Regenerate with UPDATE_TOOLSNAPS=true go test ./tools/.
func TestToolSnapshots(t *testing.T) {
	ts := NewToolset(nil, Options{EnableDelete: true})
	seen := map[string]bool{}
	for _, tool := range ts.Tools() {
		name := tool.Definition.Name
		seen[name+".snap"] = true
		got, err := json.MarshalIndent(tool.Definition, "", "  ")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got = append(got, '\n')
		path := filepath.Join("__toolsnaps__", name+".snap")
		if os.Getenv("UPDATE_TOOLSNAPS") == "true" {
			if err := os.MkdirAll("__toolsnaps__", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: no snapshot (%v); run UPDATE_TOOLSNAPS=true go test ./tools/", name, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from %s; if the change is deliberate, run UPDATE_TOOLSNAPS=true go test ./tools/ and review the diff.\ngot:\n%s", name, path, got)
		}
	}
	entries, _ := os.ReadDir("__toolsnaps__")
	for _, e := range entries {
		if !seen[e.Name()] {
			t.Errorf("stale snapshot %s: no tool has that name", e.Name())
		}
	}
}
