package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

// The MCP Registry's own schema for server.json ships in its Go module,
// which the test downloads through the module proxy (or finds in the
// module cache) without adding it to go.mod.
const (
	registryModule     = "github.com/modelcontextprotocol/registry@v1.8.9"
	registrySchemaFile = "internal/validators/schemas/2025-12-11.json"
)

// registrySchema returns the registry's server.json schema, resolved for
// validation. The schema is draft-07, which jsonschema-go validates; like
// the registry's validator, it treats "format" as an annotation, so the
// URLs are checked apart.
func registrySchema(t *testing.T) *jsonschema.Resolved {
	t.Helper()
	moduleDir, err := moduleRoot(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "mod", "download", "-json", registryModule)
	cmd.Dir = moduleDir
	out, err := cmd.Output()
	var dl struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &dl); err != nil || jerr != nil || dl.Dir == "" {
		t.Fatalf("go mod download %s (it needs the Go module proxy, or the module in the cache): %v %s %s", registryModule, err, dl.Error, out)
	}
	data, err := os.ReadFile(filepath.Join(dl.Dir, filepath.FromSlash(registrySchemaFile)))
	if err != nil {
		t.Fatal(err)
	}
	var schema jsonschema.Schema
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatalf("%s: %v", registrySchemaFile, err)
	}
	if schema.ID != registrySchemaURL {
		t.Fatalf("%s has $id %q, but server.json names %q", registrySchemaFile, schema.ID, registrySchemaURL)
	}
	if schema.Schema != "http://json-schema.org/draft-07/schema#" {
		t.Fatalf("%s is written in %q; check that jsonschema-go validates that draft", registrySchemaFile, schema.Schema)
	}
	resolved, err := schema.Resolve(nil)
	if err != nil {
		t.Fatalf("resolving %s: %v", registrySchemaFile, err)
	}
	return resolved
}

func decodeInstance(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestServerJSONValidates validates the repository's server.json (the
// template) and every release's against the registry's schema.
func TestServerJSONValidates(t *testing.T) {
	schema := registrySchema(t)
	moduleDir, err := moduleRoot(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{"repository": filepath.Join(moduleDir, "server.json")}
	for _, f := range fixtures(t) {
		paths[f.Name] = filepath.Join(f.Dir, "server.json")
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(decodeInstance(t, data)); err != nil {
				t.Fatalf("%s does not validate against %s: %v", path, registrySchemaURL, err)
			}
			if _, err := loadServerJSON(path); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRegistrySchemaCatches makes sure the validation has teeth: each
// change to a valid server.json breaks a rule of the schema.
func TestRegistrySchemaCatches(t *testing.T) {
	schema := registrySchema(t)
	moduleDir, err := moduleRoot(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(moduleDir, "server.json"))
	if err != nil {
		t.Fatal(err)
	}
	pkg := func(v map[string]any) map[string]any { return v["packages"].([]any)[0].(map[string]any) }
	tests := []struct {
		name   string
		change func(v map[string]any)
	}{
		{"no name", func(v map[string]any) { delete(v, "name") }},
		{"a name without a namespace", func(v map[string]any) { v["name"] = "plannr-mcp" }},
		{"a description over 100 characters", func(v map[string]any) { v["description"] = strings.Repeat("x", 101) }},
		{"a hash that is not SHA-256", func(v map[string]any) { pkg(v)["fileSha256"] = "abc" }},
		{"no transport", func(v map[string]any) { delete(pkg(v), "transport") }},
		{"an unknown transport", func(v map[string]any) { pkg(v)["transport"] = map[string]any{"type": "carrier-pigeon"} }},
		{"isSecret not a boolean", func(v map[string]any) {
			pkg(v)["environmentVariables"].([]any)[0].(map[string]any)["isSecret"] = "yes"
		}},
		{"a version range", func(v map[string]any) { pkg(v)["version"] = "latest" }},
	}
	if err := schema.Validate(decodeInstance(t, valid)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := decodeInstance(t, valid)
			tt.change(v)
			if err := schema.Validate(v); err == nil {
				t.Error("validated")
			}
		})
	}
}

// TestServerJSONTemplate checks the repository's server.json, which the
// release fills in: it reads back into the release's type unchanged (so
// the release drops nothing), declares the token secret, and is plainly
// not a release (version 0.0.0, a hash of zeros).
func TestServerJSONTemplate(t *testing.T) {
	moduleDir, err := moduleRoot(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(moduleDir, "server.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := loadServerJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := encodeIndented(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("server.json does not read back unchanged; written again it is\n%s", again)
	}
	if s.Name != "io.github.plannr-mcp/plannr-mcp" || s.Version != "0.0.0" || len(s.Packages) != 1 {
		t.Errorf("name %q, version %q, %d packages", s.Name, s.Version, len(s.Packages))
	}
	p := s.Packages[0]
	if p.RegistryType != "mcpb" || p.Transport.Type != "stdio" || p.FileSHA256 != strings.Repeat("0", 64) {
		t.Errorf("package %+v", p)
	}
	vars := map[string]registryEnvVar{}
	for _, e := range p.EnvironmentVariables {
		vars[e.Name] = e
	}
	if tok := vars["PLANNR_TOKEN"]; !tok.IsSecret || tok.IsRequired {
		t.Errorf("PLANNR_TOKEN %+v: want secret and not required", tok)
	}
	if sb := vars["PLANNR_MCP_SANDBOX"]; sb.Format != "boolean" || sb.IsSecret {
		t.Errorf("PLANNR_MCP_SANDBOX %+v: want a boolean", sb)
	}
	if _, ok := vars["PLANNR_ACCOUNT_UUID"]; !ok {
		t.Error("no PLANNR_ACCOUNT_UUID")
	}
}

// TestReleaseServerJSON checks what the schema cannot: the release's
// server.json names its version, the bundle's URL and hash, and every
// binary with its hash, at URLs the registry accepts for an MCPB package
// (https on GitHub, with "mcp" in them).
func TestReleaseServerJSON(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			s, err := loadServerJSON(filepath.Join(f.Dir, "server.json"))
			if err != nil {
				t.Fatal(err)
			}
			if s.Version != f.Version.semver {
				t.Errorf("version %q, want %q", s.Version, f.Version.semver)
			}
			checkURL := func(raw, file string) {
				t.Helper()
				u, err := url.Parse(raw)
				if err != nil || u.Scheme != "https" || u.Host != "github.com" || !strings.Contains(raw, "mcp") {
					t.Errorf("%q: want an https URL on github.com containing mcp", raw)
				}
				want := "https://github.com/plannr-mcp/plannr-mcp/releases/download/" + f.Version.tag + "/" + file
				if raw != want {
					t.Errorf("URL %q, want %q", raw, want)
				}
			}
			if len(s.Packages) != 1 {
				t.Fatalf("%d packages, want the bundle", len(s.Packages))
			}
			p := s.Packages[0]
			checkURL(p.Identifier, bundleName(f.Version))
			sum, err := sha256File(f.bundlePath())
			if err != nil {
				t.Fatal(err)
			}
			if p.FileSHA256 != sum || p.Version != f.Version.semver {
				t.Errorf("package fileSha256 %s version %s; the bundle's hash is %s", p.FileSHA256, p.Version, sum)
			}
			if s.Meta == nil || s.Meta.PublisherProvided == nil {
				t.Fatal("no binaries in _meta")
			}
			bins := s.Meta.PublisherProvided.Binaries
			if len(bins) != len(f.Targets) {
				t.Fatalf("%d binaries, want %d", len(bins), len(f.Targets))
			}
			for i, tg := range f.Targets {
				b := bins[i]
				sum, err := sha256File(f.binaryPath(tg))
				if err != nil {
					t.Fatal(err)
				}
				if b.OS != tg.OS || b.Arch != tg.Arch || b.FileSHA256 != sum {
					t.Errorf("binary %d: %+v, want %s with hash %s", i, b, tg, sum)
				}
				checkURL(b.URL, tg.binaryName(f.Version))
			}
		})
	}
}

func TestCompleteServerJSONRefuses(t *testing.T) {
	moduleDir, err := moduleRoot(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := loadServerJSON(filepath.Join(moduleDir, "server.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := parseVersion("v1.0.0")
	lin := target{"linux", "amd64"}
	bins := map[target]releaseFile{lin: {Name: "x", SHA256: strings.Repeat("1", 64)}}
	bundle := releaseFile{Name: "b.mcpb", SHA256: strings.Repeat("2", 64)}
	base := "https://github.com/plannr-mcp/plannr-mcp/releases/download/v1.0.0"

	if _, err := completeServerJSON(tmpl, v, base, bundle, bins, []target{lin}); err != nil {
		t.Fatalf("the template: %v", err)
	}
	npm := *tmpl
	npm.Packages = slices.Concat([]registryPackage{{RegistryType: "npm", Identifier: "plannr-mcp"}}, tmpl.Packages)
	two := *tmpl
	two.Packages = slices.Concat(tmpl.Packages, tmpl.Packages)
	none := *tmpl
	none.Packages = nil
	tests := []struct {
		name    string
		tmpl    *serverJSON
		url     string
		targets []target
	}{
		{"an npm package", &npm, base, []target{lin}},
		{"two bundles", &two, base, []target{lin}},
		{"no bundle", &none, base, []target{lin}},
		{"a plain http URL", tmpl, "http://example.com/dl", []target{lin}},
		{"a target without a binary", tmpl, base, []target{lin, {"darwin", "arm64"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := completeServerJSON(tt.tmpl, v, tt.url, bundle, bins, tt.targets); err == nil {
				t.Error("accepted")
			}
		})
	}
}
