package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// unpackBundle extracts a bundle into dir as MCPB hosts do: every entry a
// file, with the Unix permissions of the zip's external attributes.
func unpackBundle(t *testing.T, bundle, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") || !filepathLocal(f.Name) {
			t.Fatalf("bundle entry %q: want a file path inside the bundle", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, f.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func filepathLocal(name string) bool { return filepath.IsLocal(filepath.FromSlash(name)) }

// readManifest reads the manifest.json of an unpacked bundle, refusing any
// field the manifest type does not know.
func readManifest(t *testing.T, dir string) *manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := decodeStrict(bytes.NewReader(data), &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	return &m
}

// hostPlatform is this machine's platform as MCPB names it.
func hostPlatform() string { return target{runtime.GOOS, runtime.GOARCH}.platform() }

// A launch is how a host starts the server: resolved from the manifest.
type launch struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
}

// resolveLaunch does what MCPB hosts do with mcp_config (the official
// library's getMcpConfigForManifest): apply the platform's override, which
// replaces command, args or env as a whole; refuse to start when a
// required option is unset; substitute ${__dirname}, ${/},
// ${pathSeparator} and every ${user_config.KEY} that has a value (the
// person's, else the option's default; booleans as "true" or "false"),
// leaving any other placeholder as it is.
func resolveLaunch(m *manifest, dir, platform string, user map[string]any) (*launch, error) {
	c := m.Server.MCPConfig
	l := &launch{Command: c.Command, Args: slices.Clone(c.Args), Env: c.Env}
	if o, ok := c.PlatformOverrides[platform]; ok {
		if o.Command != "" {
			l.Command = o.Command
		}
		if o.Args != nil {
			l.Args = slices.Clone(o.Args)
		}
		if o.Env != nil {
			l.Env = o.Env
		}
	}
	vars := map[string]string{
		"__dirname":     dir,
		"pathSeparator": string(filepath.Separator),
		"/":             string(filepath.Separator),
	}
	values := map[string]any{}
	for _, e := range m.UserConfig {
		if e.Option.Default != nil {
			values[e.Key] = e.Option.Default
		}
	}
	for k, v := range user {
		values[k] = v
	}
	for _, e := range m.UserConfig {
		if v, ok := values[e.Key]; e.Option.Required && (!ok || v == nil || v == "") {
			return nil, fmt.Errorf("required option %s is unset: the host would not start the server", e.Key)
		}
	}
	for k, v := range values {
		switch v := v.(type) {
		case bool:
			vars["user_config."+k] = fmt.Sprint(v)
		case string:
			vars["user_config."+k] = v
		case float64, int:
			vars["user_config."+k] = fmt.Sprint(v)
		default:
			return nil, fmt.Errorf("user_config.%s: a %T value is not handled here", k, v)
		}
	}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "${"+k+"}", v)
		}
		return s
	}
	l.Command = subst(l.Command)
	for i, a := range l.Args {
		// A whole-argument ${user_config.KEY} whose value is empty stays
		// as it is, as in the official library.
		if strings.HasPrefix(a, "${user_config.") && strings.HasSuffix(a, "}") && strings.Count(a, "${") == 1 {
			if v := vars[a[2:len(a)-1]]; v != "" {
				l.Args[i] = v
			}
			continue
		}
		l.Args[i] = subst(a)
	}
	env := make(map[string]string, len(l.Env))
	for k, v := range l.Env {
		env[k] = subst(v)
	}
	l.Env = env
	return l, nil
}

// officialLaunch resolves the manifest with the official MCPB library,
// through testdata/resolve.mjs, or returns nil when Node or the library
// (npm ci in this directory) is missing and CI is not set.
func officialLaunch(t *testing.T, m *manifest, dir string, user map[string]any) *launch {
	t.Helper()
	if !haveMCPBLibrary(t) {
		return nil
	}
	input, err := json.Marshal(map[string]any{"manifest": m, "extensionPath": dir, "userConfig": user})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "resolve.mjs"))
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node testdata/resolve.mjs: %v\n%s", err, stderr.Bytes())
	}
	var l *launch
	if err := json.Unmarshal(out, &l); err != nil {
		t.Fatalf("node testdata/resolve.mjs printed %q: %v", out, err)
	}
	if l == nil {
		t.Fatalf("the official library would not start the server (a required option is unset)")
	}
	return l
}

// haveMCPBLibrary reports whether Node and the official MCPB package (npm
// ci in internal/release) are installed. Under CI (CI set) they must be.
func haveMCPBLibrary(t *testing.T) bool {
	t.Helper()
	_, errNode := exec.LookPath("node")
	_, errLib := os.Stat(filepath.Join("node_modules", "@anthropic-ai", "mcpb", "package.json"))
	if errNode == nil && errLib == nil {
		return true
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but the official MCPB tools are missing (node: %v; library: %v): run npm ci in internal/release", errNode, errLib)
	}
	t.Logf("node or the official MCPB library is missing (npm ci in internal/release): not cross-checked with it")
	return false
}

// TestBundleLaunchesAsManifestSays unpacks the bundle, reads its manifest,
// starts the server exactly as the manifest tells a host to on this
// platform, with the person's settings of each case, and speaks MCP to it
// over stdio with the official Go SDK.
func TestBundleLaunchesAsManifestSays(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the bundled server; skipped with -short")
	}
	const token = "bundle-test-token-7c1e"
	account := sandbox.SampleAccounts()[1].UUID
	for _, f := range fixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			dir := t.TempDir()
			unpackBundle(t, f.bundlePath(), dir)
			m := readManifest(t, dir)
			if !slices.Contains(m.Compatibility.Platforms, hostPlatform()) {
				t.Skipf("the bundle has no executable for %s", hostPlatform())
			}
			var toolNames []string
			for _, tool := range m.Tools {
				toolNames = append(toolNames, tool.Name)
			}
			readOnlyTools := []string{"list_oauth_connections", "list_plannr_accounts"}
			// The binary reports the tag stamped with -X main.version in
			// initialize too.
			wantVersion := f.Version.tag

			cases := []struct {
				name  string
				user  map[string]any
				tools []string
				// sandbox: the case relies on PLANNR_MCP_SANDBOX.
				sandbox bool
				// listOK: list_oauth_connections answers connections;
				// otherwise it answers an error that explains what to set.
				listOK bool
				// sawToken: the fake Plannr got the token and account.
				sawToken bool
			}{
				{name: "sandbox", user: map[string]any{"sandbox": true}, tools: toolNames, sandbox: true, listOK: true},
				{name: "token and account", user: map[string]any{"plannr_token": token, "plannr_account_uuid": account}, tools: toolNames, listOK: true, sawToken: true},
				{name: "nothing set", user: map[string]any{}, tools: toolNames},
				{name: "read-only sandbox", user: map[string]any{"sandbox": true, "read_only": true}, tools: readOnlyTools, sandbox: true, listOK: true},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					l, err := resolveLaunch(m, dir, hostPlatform(), tc.user)
					if err != nil {
						t.Fatal(err)
					}
					if official := officialLaunch(t, m, dir, tc.user); official != nil {
						if official.Command != l.Command || !slices.Equal(official.Args, l.Args) || !maps.Equal(official.Env, l.Env) {
							t.Fatalf("the official library resolves the manifest to\n%+v\nthis test to\n%+v", official, l)
						}
					}
					for k, v := range l.Env {
						if strings.Contains(v, "${") {
							t.Fatalf("%s=%q: a placeholder the host leaves as it is", k, v)
						}
					}
					fake := sandbox.New(sandbox.WithTokens(token), sandbox.WithRateLimit(0))
					srv := httptest.NewServer(fake)
					defer srv.Close()

					res := startAndList(t, l, srv.URL, tc.tools, wantVersion)
					if tc.sandbox && res.IsError {
						t.Fatalf("PLANNR_MCP_SANDBOX=%s, as the manifest sets it, did not turn the sandbox on: %s", l.Env["PLANNR_MCP_SANDBOX"], text(res))
					}
					if res.IsError == tc.listOK {
						t.Fatalf("list_oauth_connections: isError %v, want %v: %s", res.IsError, !tc.listOK, text(res))
					}
					if !tc.listOK && !strings.Contains(text(res), "PLANNR_TOKEN") {
						t.Errorf("with nothing set, the call should explain how to set a token: %s", text(res))
					}
					if tc.listOK {
						var structured struct {
							Total int `json:"total"`
						}
						raw, err := json.Marshal(res.StructuredContent)
						if err != nil {
							t.Fatal(err)
						}
						if err := json.Unmarshal(raw, &structured); err != nil || structured.Total == 0 {
							t.Errorf("want sample connections, got %s (%v)", raw, err)
						}
					}
					reqs := fake.Requests()
					if !tc.sawToken && len(reqs) > 0 {
						t.Errorf("the fake Plannr got %d requests, want none: %s %s", len(reqs), reqs[0].Method, reqs[0].Path)
					}
					if tc.sawToken {
						if len(reqs) == 0 {
							t.Fatal("the fake Plannr got no request")
						}
						for _, r := range reqs {
							if got := r.Header.Get("Authorization"); got != "Bearer "+token {
								t.Errorf("%s %s: Authorization %q, want the token from user_config", r.Method, r.Path, got)
							}
							if got := r.Header.Get("X-PLANNR-ACCOUNT-UUID"); got != account {
								t.Errorf("%s %s: X-PLANNR-ACCOUNT-UUID %q, want %q", r.Method, r.Path, got, account)
							}
						}
					}
				})
			}
		})
	}
}

// startAndList starts the server as l says, in an environment of its own
// (no PLANNR_ setting of the caller's, a fresh configuration directory,
// Plannr at baseURL), checks the handshake and the tools, and calls
// list_oauth_connections. initialize must report wantVersion.
func startAndList(t *testing.T, l *launch, baseURL string, wantTools []string, wantVersion string) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.Command(l.Command, l.Args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PLANNR_") })
	cmd.Env = append(cmd.Env, "PLANNR_MCP_CONFIG_DIR="+t.TempDir(), "PLANNR_BASE_URL="+baseURL)
	for k, v := range l.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	client := sdk.NewClient(&sdk.Implementation{Name: "bundle-test", Version: "1"}, nil)
	session, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("initialize: %v\nstderr:\n%s", err, stderr.Bytes())
	}
	defer session.Close()
	if info := session.InitializeResult().ServerInfo; info == nil || info.Name == "" {
		t.Errorf("initialize answered no server info: %+v", session.InitializeResult())
	} else if info.Version != wantVersion {
		t.Errorf("initialize: server version %q, want %q", info.Version, wantVersion)
	}
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(wantTools))
	if !slices.Equal(names, want) {
		t.Errorf("tools/list: %q, want %q", names, want)
	}
	res, err := session.CallTool(ctx, &sdk.CallToolParams{Name: "list_oauth_connections", Arguments: map[string]any{}})
	if err != nil {
		t.Fatalf("list_oauth_connections: %v\nstderr:\n%s", err, stderr.Bytes())
	}
	return res
}

func text(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
