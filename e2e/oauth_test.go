package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// storeKey is the store key the oauth tests configure; like every token,
// it must never appear in the server's output.
const storeKey = "e2e-store-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0"

const oauthRedirect = "http://127.0.0.1:9/callback"

// oauthClient is an MCP client registered by DCR with a server in oauth
// mode, played by the test; issued collects every token and code it got.
type oauthClient struct {
	t      testing.TB
	base   string
	id     string
	issued []string
}

// registerClient registers a public client with the server at base.
func registerClient(t testing.TB, base string) *oauthClient {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"client_name": "e2e client", "redirect_uris": []string{oauthRedirect}, "token_endpoint_auth_method": "none"})
	resp, err := http.Post(base+"/register", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ClientID string `json:"client_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("registering: %d %v", resp.StatusCode, err)
	}
	return &oauthClient{t: t, base: base, id: out.ClientID}
}

// signIn signs email in with a browser of their own and returns the tokens.
func (c *oauthClient) signIn(email string) (access, refresh string) {
	c.t.Helper()
	verifier, challenge := plannrtest.PKCE()
	q := url.Values{"client_id": {c.id}, "redirect_uri": {oauthRedirect}, "response_type": {"code"}, "state": {"s"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "resource": {c.base + "/mcp"}}
	back := plannrtest.NewBrowser(c.t).SignIn(c.base+"/authorize?"+q.Encode(), email, sandbox.DemoPassword)
	code := back.Query().Get("code")
	if code == "" {
		c.t.Fatalf("the sign-in of %s ended at %s", email, back.Redacted())
	}
	c.issued = append(c.issued, code, verifier)
	tokens, status := c.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {oauthRedirect}})
	if status != http.StatusOK {
		c.t.Fatalf("exchanging the code: %d %v", status, tokens)
	}
	return tokens["access_token"], tokens["refresh_token"]
}

// token posts to the token endpoint.
func (c *oauthClient) token(form url.Values) (map[string]string, int) {
	c.t.Helper()
	form.Set("client_id", c.id)
	resp, err := http.PostForm(c.base+"/token", form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	var raw map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	c.issued = append(c.issued, out["access_token"], out["refresh_token"])
	return out, resp.StatusCode
}

// oauthEnv is the environment of a server in oauth mode on the sandbox,
// with its store in dir.
func oauthEnv(t testing.TB, dir string) []string {
	return append(baseEnv(t.(*testing.T)), "PLANNR_MCP_STORE="+filepath.Join(dir, "store.db"), "PLANNR_MCP_STORE_KEY="+storeKey)
}

// noSecretIn fails the test if text holds any of the values.
func noSecretIn(t testing.TB, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a token, code or key", what)
			return
		}
	}
}

func TestOAuthEachPersonActsAsThemselves(t *testing.T) {
	dir := t.TempDir()
	env := oauthEnv(t, dir)
	srv := startHTTP(t, env, "--sandbox", "--auth", "oauth")
	base := strings.TrimSuffix(srv.url, "/mcp")

	// Without a token: 401 naming the resource metadata.
	resp, _ := post(t, srv.url, rawInitialize, nil)
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource_metadata="`+base+`/.well-known/oauth-protected-resource/mcp"`) {
		t.Fatalf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	client := registerClient(t, base)
	ownerAccess, _ := client.signIn(sandbox.OwnerEmail)
	secondAccess, secondRefresh := client.signIn(sandbox.SecondUserEmail)

	for _, tt := range []struct {
		token, want, notWant string
		count                int
	}{
		{ownerAccess, "Transact platform", "Paraplanning", 6},
		{secondAccess, "Paraplanning - Fundment", "Transact platform", 3},
	} {
		session := connectHTTP(t, srv.url, plannrtest.Bearer{Token: tt.token}, "2025-11-25")
		res := callTool(t, session, "list_oauth_connections", map[string]any{})
		text := resultText(res)
		if res.IsError || !strings.Contains(text, tt.want) || strings.Contains(text, tt.notWant) || !strings.Contains(text, "connections") {
			t.Errorf("list as one person:\n%s", text)
		}
	}

	// A cursor given to one person is refused for another.
	owner := connectHTTP(t, srv.url, plannrtest.Bearer{Token: ownerAccess}, "2026-07-28")
	page := callTool(t, owner, "list_oauth_connections", map[string]any{"limit": 2})
	cursor, _ := page.StructuredContent.(map[string]any)["next_cursor"].(string)
	if cursor == "" {
		t.Fatalf("no next_cursor: %v", page.StructuredContent)
	}
	second := connectHTTP(t, srv.url, plannrtest.Bearer{Token: secondAccess}, "2026-07-28")
	if res := callTool(t, second, "list_oauth_connections", map[string]any{"cursor": cursor}); !res.IsError || !strings.Contains(resultText(res), "not a next_cursor") {
		t.Errorf("another person's cursor: %s", resultText(res))
	}
	if res := callTool(t, owner, "list_oauth_connections", map[string]any{"cursor": cursor}); res.IsError {
		t.Errorf("the person's own cursor: %s", resultText(res))
	}

	// A session belongs to the person who opened it.
	resp, _ = post(t, srv.url, rawInitialize, map[string]string{"Authorization": "Bearer " + ownerAccess})
	session := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || session == "" {
		t.Fatalf("initialize: %d", resp.StatusCode)
	}
	if resp, _ := post(t, srv.url, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + secondAccess, "Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-11-25"}); resp.StatusCode != 404 {
		t.Errorf("another person's session: %d, want 404", resp.StatusCode)
	}

	// Refreshing the MCP token works, and the new one acts for the same person.
	refreshed, status := client.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {secondRefresh}})
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, refreshed)
	}
	again := connectHTTP(t, srv.url, plannrtest.Bearer{Token: refreshed["access_token"]}, "2026-07-28")
	if res := callTool(t, again, "list_oauth_connections", map[string]any{}); res.IsError || !strings.Contains(resultText(res), "Paraplanning") {
		t.Errorf("after refresh: %s", resultText(res))
	}

	// The operator sees both people, and revokes one.
	code, stdout, stderr := runCLI(t, env, "users")
	if code != 0 || !strings.Contains(stdout, sandbox.OwnerEmail) || !strings.Contains(stdout, sandbox.SecondUserEmail) || !strings.Contains(stdout, "e2e client") {
		t.Fatalf("users: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI(t, env, "users", "revoke", sandbox.OwnerEmail); code != 0 || !strings.Contains(stdout, "Revoked") {
		t.Fatalf("users revoke: exit %d\n%s%s", code, stdout, stderr)
	}
	modern := func(token string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + token, "Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "list_oauth_connections"}
	}
	resp, _ = post(t, srv.url, rawList, modern(ownerAccess))
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("a revoked person's token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp, body := post(t, srv.url, rawList, modern(refreshed["access_token"])); resp.StatusCode != 200 || !strings.Contains(body, "Paraplanning") {
		t.Errorf("the other person after the revoke: %d", resp.StatusCode)
	}
	if code, stdout, _ := runCLI(t, env, "users", "revoke", "nobody@example.com"); code != 1 {
		t.Errorf("revoking nobody: exit %d\n%s", code, stdout)
	}
	noSecretIn(t, "the server's stderr", srv.stderr.String(), append(client.issued, storeKey)...)

	// The operator's view of the deployment, and a rotation of the store key.
	operator := append(append([]string{}, env...), "PLANNR_CLIENT_ID=plannr-mcp-team", "PLANNR_CLIENT_SECRET=s3cret-of-the-team-client", "PLANNR_MCP_PUBLIC_URL=https://mcp.example.com")
	code, stdout, _ = runCLI(t, operator, "auth", "status", "--auth", "oauth")
	for _, want := range []string{"must be https://mcp.example.com/oauth/plannr/callback", "People: 2 have signed in, 1 with Plannr tokens stored", "Store key: opens the stored tokens"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("auth status: exit %d, want %q in:\n%s", code, want, stdout)
		}
	}
	const newKey = "e2e-store-key-rotated-00112233445566778899aabb"
	rotated := append(append([]string{}, operator...), "PLANNR_MCP_STORE_KEY="+newKey, "PLANNR_MCP_STORE_OLD_KEYS="+storeKey)
	if code, stdout, stderr := runCLI(t, rotated, "store", "rekey"); code != 0 || !strings.Contains(stdout, "Re-encrypted 1 rows") {
		t.Errorf("store rekey: exit %d\n%s%s", code, stdout, stderr)
	}
	onlyNew := append(append([]string{}, operator...), "PLANNR_MCP_STORE_KEY="+newKey)
	if code, stdout, _ := runCLI(t, onlyNew, "auth", "status", "--auth", "oauth"); code != 0 || !strings.Contains(stdout, "Store key: opens the stored tokens") {
		t.Errorf("auth status with the new key alone: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := runCLI(t, operator, "auth", "status", "--auth", "oauth"); code != 1 || !strings.Contains(stdout, "does not open the stored tokens") {
		t.Errorf("auth status with the old key after the rotation: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := runCLI(t, env, "store", "migrate"); code != 0 || !strings.Contains(stdout, "schema version") {
		t.Errorf("store migrate: exit %d\n%s", code, stdout)
	}
}

func TestOAuthRefusesToStartMisconfigured(t *testing.T) {
	env := oauthEnv(t, t.TempDir())
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"over stdio", nil, []string{"serve", "--auth", "oauth"}, "--auth oauth is for --transport http"},
		{"without a public URL off loopback", nil, []string{"serve", "--transport", "http", "--auth", "oauth", "--sandbox", "--addr", "0.0.0.0:0"}, "needs --public-url"},
		{"with a public URL over http off loopback", []string{"PLANNR_CLIENT_ID=c", "PLANNR_CLIENT_SECRET=s"}, []string{"serve", "--transport", "http", "--auth", "oauth", "--public-url", "http://mcp.example.com", "--addr", "127.0.0.1:0"}, "use https"},
		{"without a Plannr client", nil, []string{"serve", "--transport", "http", "--auth", "oauth", "--addr", "127.0.0.1:0"}, "PLANNR_CLIENT_ID"},
		{"without a store key", []string{"PLANNR_MCP_STORE_KEY=", "PLANNR_CLIENT_ID=c", "PLANNR_CLIENT_SECRET=s"}, []string{"serve", "--transport", "http", "--auth", "oauth", "--addr", "127.0.0.1:0"}, "no store key"},
		{"with a short store key", []string{"PLANNR_MCP_STORE_KEY=short", "PLANNR_CLIENT_ID=c", "PLANNR_CLIENT_SECRET=s"}, []string{"serve", "--transport", "http", "--auth", "oauth", "--addr", "127.0.0.1:0"}, "at least 32"},
		{"with an unknown mode", nil, []string{"serve", "--transport", "http", "--auth", "magic"}, "use tokens or oauth"},
		{"with a database password on the command line", nil, []string{"serve", "--transport", "http", "--auth", "oauth", "--store", "postgres://app:s3cret@db.example/mcp"}, "--store carries a password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append(append([]string{}, env...), tt.env...), tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tt.want)
			}
		})
	}
}
