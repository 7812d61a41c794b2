package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// testToken is the Plannr token the end-to-end tests configure; no output
// of the server may ever contain it.
const testToken = "e2e-secret-token-4b1d"

// builtBinary builds plannr-mcp once per test run; PLANNR_MCP_BIN names a
// binary to test instead, such as one built from an earlier commit.
var builtBinary = sync.OnceValues(func() (string, error) {
	if bin := os.Getenv("PLANNR_MCP_BIN"); bin != "" {
		return bin, nil
	}
	dir, err := os.MkdirTemp("", "plannr-mcp-e2e")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "plannr-mcp")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, "github.com/plannr-mcp/plannr-mcp").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end tests build the binary; skipped with -short")
	}
	bin, err := builtBinary()
	if err != nil {
		t.Fatalf("building plannr-mcp: %v", err)
	}
	return bin
}

// startFake serves a fake Plannr that accepts testToken, with more options.
func startFake(t *testing.T, opts ...sandbox.Option) (*sandbox.Server, string) {
	t.Helper()
	fake := sandbox.New(append([]sandbox.Option{sandbox.WithTokens(testToken), sandbox.WithRateLimit(0)}, opts...)...)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// baseEnv is the environment for the server under test: nothing from the
// developer's own configuration leaks in.
func baseEnv(t *testing.T) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"XDG_CONFIG_HOME=" + t.TempDir(),
	}
}

// connectStdio launches the binary as an MCP client would and connects the
// official Go SDK client to it over stdio.
func connectStdio(t *testing.T, env []string, protocolVersion string, args ...string) (*sdk.ClientSession, *plannrtest.SyncBuffer) {
	t.Helper()
	return connectStdioWith(t, env, protocolVersion, nil, args...)
}

// connectStdioWith is connectStdio with client options, such as an
// elicitation handler.
func connectStdioWith(t *testing.T, env []string, protocolVersion string, opts *sdk.ClientOptions, args ...string) (*sdk.ClientSession, *plannrtest.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = env
	stderr := &plannrtest.SyncBuffer{}
	cmd.Stderr = stderr
	client := sdk.NewClient(&sdk.Implementation{Name: "e2e-test", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd}, &sdk.ClientSessionOptions{ProtocolVersion: protocolVersion})
	if err != nil {
		t.Fatalf("connecting over stdio: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		_ = session.Close()
		if strings.Contains(stderr.String(), testToken) {
			t.Errorf("the server's stderr contains the Plannr token:\n%s", stderr.String())
		}
	})
	return session, stderr
}

func callTool(t *testing.T, session *sdk.ClientSession, name string, args any) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := session.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("calling %s: %v", name, err)
	}
	return res
}

func resultText(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// compileSchema resolves a tool schema with an independent validator.
func compileSchema(t *testing.T, name string, schema any) *jsonschema.Resolved {
	t.Helper()
	raw, err := json.Marshal(schema)
	if err != nil {
		t.Fatalf("%s: marshal schema: %v", name, err)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s: schema is not a JSON Schema: %v", name, err)
	}
	resolved, err := s.Resolve(nil)
	if err != nil {
		t.Fatalf("%s: schema does not resolve: %v\n%s", name, err, raw)
	}
	return resolved
}

// decodeStructured decodes a result's structuredContent into v and
// returns it as JSON.
func decodeStructured(t *testing.T, res *sdk.CallToolResult, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("structuredContent %s: %v", raw, err)
	}
	return raw
}

// validateStructured checks a result's structuredContent against the
// output schema the server advertised.
func validateStructured(t *testing.T, schema *jsonschema.Resolved, res *sdk.CallToolResult) map[string]any {
	t.Helper()
	var instance map[string]any
	raw := decodeStructured(t, res, &instance)
	if err := schema.Validate(instance); err != nil {
		t.Fatalf("structuredContent does not match the output schema: %v\n%s", err, raw)
	}
	return instance
}

func TestStdioEndToEnd(t *testing.T) {
	for _, version := range []string{"2026-07-28", "2025-11-25", "2025-06-18"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			fake, url := startFake(t)
			env := append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken)
			session, _ := connectStdio(t, env, version)

			init := session.InitializeResult()
			if init == nil || init.ServerInfo == nil || init.ServerInfo.Name != "plannr-mcp" {
				t.Fatalf("initialize result: %+v", init)
			}
			if init.Capabilities == nil || init.Capabilities.Tools == nil {
				t.Fatalf("server does not advertise tools: %+v", init.Capabilities)
			}
			if len(fake.Requests()) != 0 {
				t.Fatalf("initialize sent %d requests to Plannr; want none", len(fake.Requests()))
			}

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			list, err := session.ListTools(ctx, nil)
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			outputSchemas := map[string]*jsonschema.Resolved{}
			for _, tool := range list.Tools {
				if tool.InputSchema == nil || tool.OutputSchema == nil {
					t.Fatalf("tool %s lacks an input or output schema", tool.Name)
				}
				compileSchema(t, tool.Name+" input", tool.InputSchema)
				outputSchemas[tool.Name] = compileSchema(t, tool.Name+" output", tool.OutputSchema)
				if tool.Annotations == nil || tool.Description == "" {
					t.Errorf("tool %s lacks annotations or a description", tool.Name)
				}
			}
			for _, name := range []string{"list_oauth_connections", "rename_oauth_connection"} {
				if outputSchemas[name] == nil {
					t.Fatalf("tools/list lacks %s", name)
				}
			}

			res := callTool(t, session, "list_oauth_connections", map[string]any{})
			if res.IsError {
				t.Fatalf("list failed: %s", resultText(res))
			}
			listed := validateStructured(t, outputSchemas["list_oauth_connections"], res)
			if got, want := listed["count"], float64(len(fake.Connections())); got != want {
				t.Errorf("count = %v, want %v", got, want)
			}
			if !strings.Contains(resultText(res), "My Fundment Account 1") {
				t.Errorf("text rendering lacks a label:\n%s", resultText(res))
			}

			const uuid = "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c"
			res = callTool(t, session, "rename_oauth_connection", map[string]any{"uuid": uuid, "label": "  Fundment (main office)  "})
			if res.IsError {
				t.Fatalf("rename failed: %s", resultText(res))
			}
			renamed := validateStructured(t, outputSchemas["rename_oauth_connection"], res)
			if renamed["label"] != "Fundment (main office)" {
				t.Errorf("renamed label = %v", renamed["label"])
			}
			if rec, _ := fake.Connection(uuid); rec.Label != "Fundment (main office)" {
				t.Errorf("fake store label = %q; the rename did not reach Plannr", rec.Label)
			}
			for _, r := range fake.Requests() {
				if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
					t.Errorf("%s %s sent Authorization %q", r.Method, r.Path, got)
				}
				if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "plannr-mcp/") {
					t.Errorf("User-Agent = %q", ua)
				}
			}
		})
	}
}

func TestStdioBadArgumentsNeverReachPlannr(t *testing.T) {
	fake, url := startFake(t)
	env := append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken)
	session, _ := connectStdio(t, env, "")
	const uuid = "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c"
	tests := []struct {
		name string
		tool string
		args any
		want string
	}{
		{"missing uuid", "rename_oauth_connection", map[string]any{"label": "x"}, `missing required argument "uuid"`},
		{"missing label", "rename_oauth_connection", map[string]any{"uuid": uuid}, `missing required argument "label"`},
		{"uuid of wrong type", "rename_oauth_connection", map[string]any{"uuid": 42, "label": "x"}, `argument "uuid" must be a string`},
		{"label of wrong type", "rename_oauth_connection", map[string]any{"uuid": uuid, "label": []string{"x"}}, `argument "label" must be a string`},
		{"uuid not a UUID", "rename_oauth_connection", map[string]any{"uuid": "fundment-1", "label": "x"}, `must be a UUID`},
		{"empty label", "rename_oauth_connection", map[string]any{"uuid": uuid, "label": "   "}, `must not be empty`},
		{"overlong label", "rename_oauth_connection", map[string]any{"uuid": uuid, "label": strings.Repeat("é", 256)}, `256 characters long; the limit is 255`},
		{"control characters", "rename_oauth_connection", map[string]any{"uuid": uuid, "label": "a\nb"}, `control or invisible characters`},
		{"bidi override", "rename_oauth_connection", map[string]any{"uuid": uuid, "label": "Fundment\u202e main"}, `character 9 is U+202E`},
		{"zero-width space", "rename_oauth_connection", map[string]any{"uuid": uuid, "label": "Fund\u200bment"}, `U+200B`},
		{"unknown argument", "rename_oauth_connection", map[string]any{"uuid": uuid, "label": "x", "colour": "red"}, `unknown argument "colour"`},
		{"list with an argument", "list_oauth_connections", map[string]any{"all": true}, `unknown argument "all"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := callTool(t, session, tt.tool, tt.args)
			if !res.IsError {
				t.Fatalf("call succeeded; want a tool error")
			}
			if text := resultText(res); !strings.Contains(text, tt.want) || !strings.Contains(text, "Nothing was sent to Plannr") {
				t.Errorf("error text %q does not contain %q", text, tt.want)
			}
		})
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("bad arguments sent %d requests to Plannr; want none", n)
	}
}

func TestStdioWithoutCredentialStillServes(t *testing.T) {
	fake, url := startFake(t)
	session, stderr := connectStdio(t, append(baseEnv(t), "PLANNR_BASE_URL="+url), "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if list, err := session.ListTools(ctx, nil); err != nil || len(list.Tools) == 0 {
		t.Fatalf("tools/list without a credential: %v", err)
	}
	res := callTool(t, session, "list_oauth_connections", nil)
	if !res.IsError || !strings.Contains(resultText(res), "PLANNR_TOKEN") {
		t.Fatalf("want a tool error explaining how to set a token; got %q", resultText(res))
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d requests reached Plannr without a credential", n)
	}
	if !strings.Contains(stderr.String(), "no Plannr credential configured") {
		t.Errorf("stderr does not warn about the missing credential:\n%s", stderr.String())
	}
}

func TestStdioRejectedToken(t *testing.T) {
	_, url := startFake(t)
	env := append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN=not-the-right-token")
	session, _ := connectStdio(t, env, "")
	res := callTool(t, session, "list_oauth_connections", nil)
	text := resultText(res)
	if !res.IsError || !strings.Contains(text, "401") || !strings.Contains(text, "PLANNR_TOKEN") {
		t.Fatalf("want a 401 tool error with advice; got %q", text)
	}
	if strings.Contains(text, "not-the-right-token") {
		t.Fatalf("the error shows the token: %q", text)
	}
}

// runCLI runs the binary once and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String()
}

func TestCLI(t *testing.T) {
	env := baseEnv(t)
	t.Run("call in the sandbox", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, env, "call", "list_oauth_connections", "--sandbox")
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr)
		}
		var res struct {
			StructuredContent struct {
				Count int `json:"count"`
			} `json:"structuredContent"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
		}
		if res.StructuredContent.Count != len(sandbox.SampleConnections(time.Now())) {
			t.Errorf("count = %d", res.StructuredContent.Count)
		}
		if !strings.Contains(stderr, "SANDBOX") {
			t.Errorf("stderr does not say it is a sandbox:\n%s", stderr)
		}
	})
	t.Run("call with arguments", func(t *testing.T) {
		code, stdout, _ := runCLI(t, env, "call", "--sandbox", "rename_oauth_connection", `{"uuid":"8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c","label":"Renamed"}`)
		if code != 0 || !strings.Contains(stdout, `"label": "Renamed"`) {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
	})
	t.Run("call that fails exits 1", func(t *testing.T) {
		code, stdout, _ := runCLI(t, env, "call", "--sandbox", "rename_oauth_connection", `{"uuid":"nope","label":"x"}`)
		if code != 1 || !strings.Contains(stdout, `"isError": true`) {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
	})
	t.Run("tools prints valid JSON", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, env, "tools")
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr)
		}
		var out struct {
			Tools []struct {
				Name         string         `json:"name"`
				InputSchema  map[string]any `json:"inputSchema"`
				OutputSchema map[string]any `json:"outputSchema"`
			} `json:"tools"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || len(out.Tools) < 2 {
			t.Fatalf("tools output: %v\n%s", err, stdout)
		}
		for _, tool := range out.Tools {
			if tool.InputSchema == nil || tool.OutputSchema == nil {
				t.Errorf("%s lacks a schema", tool.Name)
			}
		}
	})
	t.Run("version", func(t *testing.T) {
		code, stdout, _ := runCLI(t, env, "version")
		if code != 0 || !strings.HasPrefix(stdout, "plannr-mcp ") {
			t.Fatalf("exit %d, stdout %q", code, stdout)
		}
	})
	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{{"frobnicate"}, {"serve", "--no-such-flag"}, {"call"}} {
			if code, _, _ := runCLI(t, env, args...); code != 2 {
				t.Errorf("%v: exit %d, want 2", args, code)
			}
		}
	})
	t.Run("bad JSON arguments", func(t *testing.T) {
		code, _, stderr := runCLI(t, env, "call", "--sandbox", "rename_oauth_connection", `{"uuid":`)
		if code != 2 || !strings.Contains(stderr, "not valid JSON") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
}

// TestStdioStdoutCarriesOnlyProtocol speaks raw JSON-RPC to the binary, with
// debug logging and a malformed line, and checks every line it writes to
// stdout is a JSON-RPC message.
func TestStdioStdoutCarriesOnlyProtocol(t *testing.T) {
	_, url := startFake(t)
	cmd := exec.Command(binary(t), "--log-level", "debug")
	cmd.Env = append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken)
	cmd.Stdin = strings.NewReader(strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`this is not JSON`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_oauth_connections","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"rename_oauth_connection","arguments":{"uuid":"x"}}}`,
		`{"jsonrpc":"2.0","id":5,"method":"no/such/method"}`,
	}, "\n") + "\n")
	var stdout bytes.Buffer
	stderr := &plannrtest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("server exited with %v when stdin closed\nstderr:\n%s", err, stderr.String())
	}
	ids := map[float64]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var msg struct {
			JSONRPC string   `json:"jsonrpc"`
			ID      *float64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(line), &msg); err != nil || msg.JSONRPC != "2.0" {
			t.Fatalf("stdout line is not a JSON-RPC message: %q", line)
		}
		if msg.ID != nil {
			ids[*msg.ID] = true
		}
	}
	for id := 1.0; id <= 5; id++ {
		if !ids[id] {
			t.Errorf("no response to request %v:\n%s", id, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "level=DEBUG") && !strings.Contains(stderr.String(), "level=INFO") {
		t.Errorf("expected logs on stderr, got:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), testToken) {
		t.Error("the token appears in the server's output")
	}
}

func TestSandboxSaysSoToTheModel(t *testing.T) {
	session, stderr := connectStdio(t, baseEnv(t), "", "--sandbox")
	init := session.InitializeResult()
	if !strings.Contains(init.Instructions, "SANDBOX") {
		t.Errorf("instructions do not mention the sandbox: %q", init.Instructions)
	}
	if !strings.Contains(stderr.String(), "SANDBOX") {
		t.Errorf("stderr does not mention the sandbox:\n%s", stderr.String())
	}
	res := callTool(t, session, "list_oauth_connections", nil)
	if res.IsError || !strings.Contains(resultText(res), "Transact platform") {
		t.Fatalf("sandbox list: %s", resultText(res))
	}
}
