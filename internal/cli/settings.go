package cli

import (
	"flag"
	"strconv"
	"strings"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/httpserve"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/internal/telemetry"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// Every setting is declared once, in settingSpecs: its environment
// variable, its flag (none for a secret: a flag's value shows in ps), its
// default and its help. The environment is read in one place, loadSettings,
// and nowhere else; each command then declares flags for the groups of
// settings it takes, and parses those groups into its config.

// group is a set of settings a command takes together.
type group int

const (
	// groupPlannr is how to reach Plannr: base URL, time limit, logging.
	groupPlannr group = iota
	// groupCredential is which Plannr credential to use.
	groupCredential
	// groupStore is where the OAuth2 login is stored.
	groupStore
	// groupClient is how the Plannr client copes with failures.
	groupClient
	// groupToolset is which tools to serve and how they sign their state.
	groupToolset
	// groupTransport is how to serve MCP: stdio or HTTP, and HTTP's settings.
	groupTransport
	// groupLogin is the OAuth2 client that logs in.
	groupLogin
	// groupSandboxAPI is the sandbox-api command's own.
	groupSandboxAPI
	// groupAuthStatus is the auth status command's own.
	groupAuthStatus
)

// Keys of the settings.
const (
	keyToken            = "token"
	keyTokenFile        = "token-file"
	keyBaseURL          = "base-url"
	keyAccountUUID      = "account-uuid"
	keyLogLevel         = "log-level"
	keyTimeout          = "timeout"
	keySandbox          = "sandbox"
	keyConfigDir        = "config-dir"
	keyRetryMax         = "retry-max"
	keyAttemptTimeout   = "attempt-timeout"
	keyRateLimit        = "rate-limit"
	keyListCacheTTL     = "list-cache-ttl"
	keyMaxResponse      = "max-response-bytes"
	keyReadOnly         = "read-only"
	keyEnableDelete     = "enable-delete"
	keyTools            = "tools"
	keyStateKey         = "state-key"
	keyStateKeyFile     = "state-key-file"
	keyTransport        = "transport"
	keyAddr             = "addr"
	keyAuthTokens       = "auth-tokens"
	keyAuthTokenFile    = "auth-token-file"
	keyAllowedOrigins   = "allowed-origins"
	keyTrustedProxies   = "trusted-proxies"
	keyStateless        = "stateless"
	keyMaxBodyBytes     = "max-body-bytes"
	keyMaxSessions      = "max-sessions"
	keyShutdownTimeout  = "shutdown-timeout"
	keySessionIdle      = "session-idle-timeout"
	keyReadHeader       = "read-header-timeout"
	keyReadTimeout      = "read-timeout"
	keyIdleTimeout      = "idle-timeout"
	keyMetricsAddr      = "metrics-addr"
	keyClientID         = "client-id"
	keyClientSecret     = "client-secret"
	keyClientSecretFile = "client-secret-file"
	keyRedirectURL      = "redirect-url"
	keyNoBrowser        = "no-browser"
	keyLoginTimeout     = "login-timeout"
	keySandboxToken     = "sandbox-token"
	keySandboxAddr      = "sandbox-addr"
	keyRedirectURLs     = "redirect-urls"
	keyOffline          = "offline"
	keyNoUI             = "no-ui"
	keyReauthorizeWait  = "reauthorize-wait"
)

// spec declares one setting.
type spec struct {
	key   string
	group group
	// flag is the flag's name; empty for a setting only the environment
	// sets, such as a secret.
	flag string
	// env is the environment variable; empty for a flag alone.
	env  string
	def  string
	help string
	// boolean flags take no value: --read-only means true.
	boolean bool
}

// settingSpecs is every setting of every command.
func settingSpecs() []spec {
	return []spec{
		{key: keyBaseURL, group: groupPlannr, flag: "base-url", env: "PLANNR_BASE_URL", def: plannr.DefaultBaseURL, help: "Plannr API base URL"},
		{key: keyTimeout, group: groupPlannr, flag: "timeout", env: "PLANNR_TIMEOUT", def: plannr.DefaultTimeout.String(), help: "time limit for one Plannr request, retries and waits included"},
		{key: keyLogLevel, group: groupPlannr, flag: "log-level", env: "PLANNR_MCP_LOG_LEVEL", def: "info", help: "debug, info, warn or error; logs go to stderr"},

		{key: keyToken, group: groupCredential, env: "PLANNR_TOKEN"},
		{key: keyTokenFile, group: groupCredential, flag: "token-file", env: "PLANNR_TOKEN_FILE", help: "file holding a Plannr Personal Access Token (or set PLANNR_TOKEN)"},
		{key: keyAccountUUID, group: groupCredential, flag: "account-uuid", env: "PLANNR_ACCOUNT_UUID", help: "account to act for, sent as X-PLANNR-ACCOUNT-UUID"},
		{key: keySandbox, group: groupCredential, flag: "sandbox", env: "PLANNR_MCP_SANDBOX", def: "false", boolean: true, help: "serve against the built-in fake Plannr with sample data; needs no credentials"},

		{key: keyConfigDir, group: groupStore, flag: "config-dir", env: "PLANNR_MCP_CONFIG_DIR", help: "directory of the stored OAuth2 login (default plannr-mcp in the user's configuration directory)"},

		{key: keyRetryMax, group: groupClient, flag: "retry-max", env: "PLANNR_RETRY_MAX", def: strconv.Itoa(plannr.DefaultMaxRetries), help: "how many times to retry a request after a 429, 502, 503, 504, reset or timeout; 0 turns retries off"},
		{key: keyAttemptTimeout, group: groupClient, flag: "attempt-timeout", env: "PLANNR_ATTEMPT_TIMEOUT", def: plannr.DefaultAttemptTimeout.String(), help: "time limit for one attempt, after which it is retried; 0 leaves only --timeout"},
		{key: keyRateLimit, group: groupClient, flag: "rate-limit", env: "PLANNR_RATE_LIMIT", def: strconv.Itoa(plannr.DefaultRateLimit().Requests), help: "most requests per minute to send Plannr; 0 turns client-side limiting off"},
		{key: keyListCacheTTL, group: groupClient, flag: "list-cache-ttl", env: "PLANNR_LIST_CACHE_TTL", def: "0s", help: "how long to reuse a list of connections, such as 5s; 0 turns caching off"},
		{key: keyMaxResponse, group: groupClient, flag: "max-response-bytes", env: "PLANNR_MAX_RESPONSE_BYTES", def: formatBytes(plannr.DefaultMaxResponseBytes), help: "largest answer read from Plannr, such as 32MiB; a larger one is an error"},

		{key: keyReadOnly, group: groupToolset, flag: "read-only", env: "PLANNR_MCP_READ_ONLY", def: "false", boolean: true, help: "serve only the tools that change nothing; wins over --enable-delete and --tools"},
		{key: keyEnableDelete, group: groupToolset, flag: "enable-delete", def: "false", boolean: true, help: "serve " + tools.DeleteToolName + ", which is off without this flag"},
		{key: keyTools, group: groupToolset, flag: "tools", env: "PLANNR_MCP_TOOLS", help: "comma-separated names of the only tools to serve, e.g. " + tools.ListToolName},
		{key: keyStateKey, group: groupToolset, env: "PLANNR_MCP_STATE_KEY"},
		{key: keyNoUI, group: groupToolset, flag: "no-ui", env: "PLANNR_MCP_NO_UI", def: "false", boolean: true, help: "serve no MCP App: list_oauth_connections names no dashboard, for hosts that render it badly"},
		{key: keyReauthorizeWait, group: groupToolset, flag: "reauthorize-wait", env: "PLANNR_MCP_REAUTHORIZE_WAIT", def: tools.DefaultReauthorizeWait.String(), help: "how long " + tools.ReauthorizeToolName + " waits for a person to finish re-authorizing"},
		{key: keyStateKeyFile, group: groupToolset, flag: "state-key-file", env: "PLANNR_MCP_STATE_KEY_FILE", help: "file holding the key that signs list cursors, delete confirmations and re-authorization state, shared by replicas (or set PLANNR_MCP_STATE_KEY); default a random key per process"},

		{key: keyTransport, group: groupTransport, flag: "transport", env: "PLANNR_MCP_TRANSPORT", def: transportStdio, help: "stdio, or http to serve MCP over streamable HTTP"},
		{key: keyAddr, group: groupTransport, flag: "addr", env: "PLANNR_MCP_ADDR", def: httpserve.DefaultAddr, help: "HTTP: address to listen on; port 0 picks a free one"},
		{key: keyAuthTokens, group: groupTransport, env: "PLANNR_MCP_AUTH_TOKENS"},
		{key: keyAuthTokenFile, group: groupTransport, flag: "auth-token-file", env: "PLANNR_MCP_AUTH_TOKEN_FILE", help: "HTTP: file of client bearer tokens, one a line (or set PLANNR_MCP_AUTH_TOKENS, comma-separated)"},
		{key: keyAllowedOrigins, group: groupTransport, flag: "allowed-origins", env: "PLANNR_MCP_ALLOWED_ORIGINS", help: "HTTP: comma-separated browser origins allowed to call the server, e.g. https://app.example.com; on a loopback listener, loopback origins are allowed too"},
		{key: keyTrustedProxies, group: groupTransport, flag: "trusted-proxies", env: "PLANNR_MCP_TRUSTED_PROXIES", help: "HTTP: comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client in logs"},
		{key: keyStateless, group: groupTransport, flag: "stateless", env: "PLANNR_MCP_STATELESS", def: "false", boolean: true, help: "HTTP: hold no session state, to run several replicas behind a load balancer"},
		{key: keyMaxBodyBytes, group: groupTransport, flag: "max-body-bytes", env: "PLANNR_MCP_MAX_BODY_BYTES", def: strconv.Itoa(httpserve.DefaultMaxBodyBytes), help: "HTTP: largest request body accepted"},
		{key: keyMaxSessions, group: groupTransport, flag: "max-sessions", env: "PLANNR_MCP_MAX_SESSIONS", def: strconv.Itoa(httpserve.DefaultMaxSessions), help: "HTTP: most live sessions at once"},
		{key: keyShutdownTimeout, group: groupTransport, flag: "shutdown-timeout", env: "PLANNR_MCP_SHUTDOWN_TIMEOUT", def: httpserve.DefaultShutdownTimeout.String(), help: "on SIGINT/SIGTERM or when stdin closes, how long calls in flight may run before they are cut off"},
		{key: keySessionIdle, group: groupTransport, flag: "session-idle-timeout", env: "PLANNR_MCP_SESSION_IDLE_TIMEOUT", def: httpserve.DefaultSessionIdleTimeout.String(), help: "HTTP: end a session after this long without a request"},
		{key: keyReadHeader, group: groupTransport, flag: "read-header-timeout", env: "PLANNR_MCP_READ_HEADER_TIMEOUT", def: httpserve.DefaultReadHeaderTimeout.String(), help: "HTTP: time limit for reading a request's headers"},
		{key: keyReadTimeout, group: groupTransport, flag: "read-timeout", env: "PLANNR_MCP_READ_TIMEOUT", def: httpserve.DefaultReadTimeout.String(), help: "HTTP: time limit for reading a whole request"},
		{key: keyMetricsAddr, group: groupTransport, flag: "metrics-addr", env: "PLANNR_MCP_METRICS_ADDR", help: "address to serve Prometheus metrics on, at /metrics, such as 127.0.0.1:9464 (no MCP there, no client token asked); empty serves none"},
		{key: keyIdleTimeout, group: groupTransport, flag: "idle-timeout", env: "PLANNR_MCP_IDLE_TIMEOUT", def: httpserve.DefaultIdleTimeout.String(), help: "HTTP: close a keep-alive connection idle this long"},

		{key: keyClientID, group: groupLogin, flag: "client-id", env: "PLANNR_CLIENT_ID", help: "OAuth2 client id Plannr issued"},
		{key: keyClientSecret, group: groupLogin, env: "PLANNR_CLIENT_SECRET"},
		{key: keyClientSecretFile, group: groupLogin, flag: "client-secret-file", env: "PLANNR_CLIENT_SECRET_FILE", help: "file holding the OAuth2 client secret (or set PLANNR_CLIENT_SECRET); the secret itself is never a flag, which other users could read in ps"},
		{key: keyRedirectURL, group: groupLogin, flag: "redirect-url", env: "PLANNR_REDIRECT_URL", def: auth.DefaultRedirectURL, help: "loopback redirect URL registered with Plannr for the client"},
		{key: keyNoBrowser, group: groupLogin, flag: "no-browser", def: "false", boolean: true, help: "only print the login URL; do not open a browser"},
		{key: keyLoginTimeout, group: groupLogin, flag: "login-timeout", def: auth.DefaultLoginTimeout.String(), help: "how long to wait for the login to be completed in the browser"},

		{key: keySandboxAddr, group: groupSandboxAPI, flag: "addr", def: "127.0.0.1:0", help: "address to listen on; port 0 picks a free port"},
		{key: keySandboxToken, group: groupSandboxAPI, flag: "token", env: "PLANNR_SANDBOX_TOKEN", def: sandbox.SandboxToken, help: "bearer token the fake accepts"},
		{key: keyRedirectURLs, group: groupSandboxAPI, flag: "redirect-urls", help: "comma-separated redirect URLs the demo OAuth2 client accepts besides its own"},

		{key: keyOffline, group: groupAuthStatus, flag: "offline", def: "false", boolean: true, help: "only read the local configuration; do not ask Plannr"},
	}
}

// settings are every setting's value as text: its default, overridden by
// the environment, overridden by a flag of the command line.
type settings struct {
	values map[string]string
	// source names, for an error, where each value came from.
	source map[string]string
	specs  map[string]spec
	// graphical reports a graphical session, where a browser can open.
	graphical bool
	// gomaxprocs reports GOMAXPROCS set in the environment.
	gomaxprocs bool
	// otel holds the OpenTelemetry variables that are set (see
	// telemetry.TraceEnv).
	otel map[string]string
}

// loadSettings reads the environment: the only place the CLI does.
func loadSettings(getenv func(string) string) *settings {
	s := &settings{values: map[string]string{}, source: map[string]string{}, specs: map[string]spec{}}
	for _, sp := range allSpecs() {
		s.specs[sp.key] = sp
		s.values[sp.key] = sp.def
		if sp.env != "" {
			if v := getenv(sp.env); v != "" {
				s.values[sp.key], s.source[sp.key] = v, sp.env
			}
		}
	}
	s.graphical = getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
	s.gomaxprocs = getenv("GOMAXPROCS") != ""
	for _, name := range telemetry.TraceEnv() {
		if v := getenv(name); v != "" {
			if s.otel == nil {
				s.otel = map[string]string{}
			}
			s.otel[name] = v
		}
	}
	return s
}

// declare adds the flags of groups to fs; a flag's default is the value
// the environment gave.
func (s *settings) declare(fs *flag.FlagSet, groups ...group) {
	for _, sp := range allSpecs() {
		if sp.flag == "" || !containsGroup(groups, sp.group) {
			continue
		}
		help := sp.help
		if sp.env != "" {
			help += " (env " + sp.env + ")"
		}
		fs.Var(&flagValue{s: s, key: sp.key, name: sp.flag, boolean: sp.boolean}, sp.flag, help)
	}
}

func containsGroup(groups []group, g group) bool {
	for _, x := range groups {
		if x == g {
			return true
		}
	}
	return false
}

// get returns a setting's value.
func (s *settings) get(key string) string { return s.values[key] }

// name says where a setting's value came from, for an error: the flag or
// the variable that set it, or, for a default, the flag (or variable) that
// would set it.
func (s *settings) name(key string) string {
	if src := s.source[key]; src != "" {
		return src
	}
	if sp := s.specs[key]; sp.flag != "" {
		return "--" + sp.flag
	}
	return s.specs[key].env
}

// flagValue is a setting as a flag.Value, so that every setting, boolean
// or not, is set the same way.
type flagValue struct {
	s       *settings
	key     string
	name    string
	boolean bool
}

func (f *flagValue) String() string {
	if f == nil || f.s == nil {
		return ""
	}
	return f.s.values[f.key]
}

func (f *flagValue) Set(v string) error {
	f.s.values[f.key], f.s.source[f.key] = v, "--"+f.name
	return nil
}

// IsBoolFlag lets a boolean setting be given as --name alone.
func (f *flagValue) IsBoolFlag() bool { return f.boolean }

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
