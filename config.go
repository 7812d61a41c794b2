package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// config is everything a command needs, from flags over environment variables.
type config struct {
	sandbox     bool
	tokenFile   string
	baseURL     string
	accountUUID string
	logLevel    slog.Level
	timeout     time.Duration
	configDir   string // where the OAuth2 login is stored; empty means auth.DefaultDir

	// How the Plannr client copes with failures and with Plannr's rate limit.
	retryMax       int
	attemptTimeout time.Duration
	rateLimit      int // requests per minute; 0 turns client-side limiting off
	listCacheTTL   time.Duration
	maxResponse    int64 // bytes of one Plannr answer read at most

	// stateKey signs list cursors and delete confirmations; empty means a
	// random key per process.
	stateKey []byte

	// readOnly registers only the tools that change nothing; it wins over
	// enableDelete and tools.
	readOnly bool
	// enableDelete registers delete_oauth_connection.
	enableDelete bool
	// tools, when not empty, are the only tools registered, comma-separated
	// (a string keeps config comparable); see toolNames.
	tools string
}

// Environment variables that configure the server; flags override them.
const (
	envToken        = "PLANNR_TOKEN"
	envTokenFile    = "PLANNR_TOKEN_FILE"
	envBaseURL      = "PLANNR_BASE_URL"
	envAccountUUID  = "PLANNR_ACCOUNT_UUID"
	envLogLevel     = "PLANNR_MCP_LOG_LEVEL"
	envTimeout      = "PLANNR_TIMEOUT"
	envReadOnly     = "PLANNR_MCP_READ_ONLY"
	envTools        = "PLANNR_MCP_TOOLS"
	envSandbox      = "PLANNR_MCP_SANDBOX"
	envStateKey     = "PLANNR_MCP_STATE_KEY"
	envStateKeyFile = "PLANNR_MCP_STATE_KEY_FILE"

	// The OAuth2 login (see login.go).
	envConfigDir        = "PLANNR_MCP_CONFIG_DIR"
	envClientID         = "PLANNR_CLIENT_ID"
	envClientSecret     = "PLANNR_CLIENT_SECRET"
	envClientSecretFile = "PLANNR_CLIENT_SECRET_FILE"
	envRedirectURL      = "PLANNR_REDIRECT_URL"
)

// Environment variables for retries, rate limiting and caching.
const (
	envRetryMax       = "PLANNR_RETRY_MAX"
	envAttemptTimeout = "PLANNR_ATTEMPT_TIMEOUT"
	envRateLimit      = "PLANNR_RATE_LIMIT"
	envListCacheTTL   = "PLANNR_LIST_CACHE_TTL"
	envMaxResponse    = "PLANNR_MAX_RESPONSE_BYTES"
)

// newFlagSet declares the flags shared by every command. The returned
// function finishes the config after parsing.
func newFlagSet(name string, stderr io.Writer, getenv func(string) string) (*flag.FlagSet, func() (*config, error)) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	logLevel := envOr(getenv, envLogLevel, "info")
	timeout := envOr(getenv, envTimeout, plannr.DefaultTimeout.String())
	sandbox, sandboxErr := strconv.ParseBool(envOr(getenv, envSandbox, "false"))
	fs.BoolVar(&cfg.sandbox, "sandbox", sandbox, "serve against the built-in fake Plannr with sample data; needs no credentials (env "+envSandbox+")")
	fs.StringVar(&cfg.tokenFile, "token-file", getenv(envTokenFile), "file holding a Plannr Personal Access Token (env "+envTokenFile+"; or set "+envToken+")")
	fs.StringVar(&cfg.baseURL, "base-url", envOr(getenv, envBaseURL, plannr.DefaultBaseURL), "Plannr API base URL (env "+envBaseURL+")")
	fs.StringVar(&cfg.accountUUID, "account-uuid", getenv(envAccountUUID), "account to act for, sent as X-PLANNR-ACCOUNT-UUID (env "+envAccountUUID+")")
	fs.StringVar(&logLevel, "log-level", logLevel, "debug, info, warn or error; logs go to stderr (env "+envLogLevel+")")
	fs.StringVar(&timeout, "timeout", timeout, "time limit for one Plannr request, retries and waits included (env "+envTimeout+")")
	retryMax := envOr(getenv, envRetryMax, strconv.Itoa(plannr.DefaultMaxRetries))
	attemptTimeout := envOr(getenv, envAttemptTimeout, plannr.DefaultAttemptTimeout.String())
	rateLimit := envOr(getenv, envRateLimit, strconv.Itoa(plannr.DefaultRateLimit().Requests))
	listCacheTTL := envOr(getenv, envListCacheTTL, "0s")
	maxResponse := envOr(getenv, envMaxResponse, formatBytes(plannr.DefaultMaxResponseBytes))
	stateKeyFile := getenv(envStateKeyFile)
	fs.StringVar(&retryMax, "retry-max", retryMax, "how many times to retry a request after a 429, 502, 503, 504, reset or timeout; 0 turns retries off (env "+envRetryMax+")")
	fs.StringVar(&attemptTimeout, "attempt-timeout", attemptTimeout, "time limit for one attempt, after which it is retried; 0 leaves only --timeout (env "+envAttemptTimeout+")")
	fs.StringVar(&rateLimit, "rate-limit", rateLimit, "most requests per minute to send Plannr; 0 turns client-side limiting off (env "+envRateLimit+")")
	fs.StringVar(&listCacheTTL, "list-cache-ttl", listCacheTTL, "how long to reuse a list of connections, such as 5s; 0 turns caching off (env "+envListCacheTTL+")")
	fs.StringVar(&maxResponse, "max-response-bytes", maxResponse, "largest answer read from Plannr, such as 32MiB; a larger one is an error (env "+envMaxResponse+")")
	fs.StringVar(&stateKeyFile, "state-key-file", stateKeyFile, "file holding the key that signs list cursors and delete confirmations, shared by replicas (env "+envStateKeyFile+"; or set "+envStateKey+"); default a random key per process")
	readOnly, readOnlyErr := strconv.ParseBool(envOr(getenv, envReadOnly, "false"))
	fs.BoolVar(&cfg.readOnly, "read-only", readOnly, "serve only the tools that change nothing; wins over --enable-delete and --tools (env "+envReadOnly+")")
	fs.BoolVar(&cfg.enableDelete, "enable-delete", false, "serve "+tools.DeleteToolName+", which is off without this flag")
	toolList := getenv(envTools)
	fs.StringVar(&toolList, "tools", toolList, "comma-separated names of the only tools to serve, e.g. "+tools.ListToolName+" (env "+envTools+")")
	fs.StringVar(&cfg.configDir, "config-dir", getenv(envConfigDir), "directory of the stored OAuth2 login (env "+envConfigDir+"; default plannr-mcp in the user's configuration directory)")
	return fs, func() (*config, error) {
		if readOnlyErr != nil {
			return nil, fmt.Errorf("%s %q: use true or false", envReadOnly, getenv(envReadOnly))
		}
		if sandboxErr != nil {
			return nil, fmt.Errorf("%s %q: use true or false", envSandbox, getenv(envSandbox))
		}
		uuid, err := canonicalAccountUUID(cfg.accountUUID)
		if err != nil {
			return nil, err
		}
		cfg.accountUUID = uuid
		if cfg.maxResponse, err = parseBytes(maxResponse); err != nil || cfg.maxResponse <= 0 {
			return nil, fmt.Errorf("--max-response-bytes %q: use a size such as 32MiB, 500KiB or 1048576 (bytes)", maxResponse)
		}
		if cfg.stateKey, err = readStateKey(getenv(envStateKey), stateKeyFile); err != nil {
			return nil, err
		}
		names, err := parseToolList(toolList, cfg.readOnly, cfg.enableDelete)
		if err != nil {
			return nil, err
		}
		cfg.tools = strings.Join(names, ",")
		if err := cfg.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
			return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)
		}
		d, err := time.ParseDuration(timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--timeout %q: use a positive duration such as 30s", timeout)
		}
		cfg.timeout = d
		if cfg.retryMax, err = strconv.Atoi(retryMax); err != nil || cfg.retryMax < 0 {
			return nil, fmt.Errorf("--retry-max %q: use a whole number, 0 or more", retryMax)
		}
		if cfg.attemptTimeout, err = time.ParseDuration(attemptTimeout); err != nil || cfg.attemptTimeout < 0 {
			return nil, fmt.Errorf("--attempt-timeout %q: use a duration such as 10s, or 0", attemptTimeout)
		}
		if cfg.rateLimit, err = strconv.Atoi(rateLimit); err != nil || cfg.rateLimit < 0 {
			return nil, fmt.Errorf("--rate-limit %q: use requests per minute, such as 500, or 0 to turn limiting off", rateLimit)
		}
		if cfg.listCacheTTL, err = time.ParseDuration(listCacheTTL); err != nil || cfg.listCacheTTL < 0 {
			return nil, fmt.Errorf("--list-cache-ttl %q: use a duration such as 5s, or 0 to turn caching off", listCacheTTL)
		}
		return cfg, nil
	}
}

// toolNames returns the tools --tools selected; none means every tool.
func (c *config) toolNames() []string {
	if c.tools == "" {
		return nil
	}
	return strings.Split(c.tools, ",")
}

// parseToolList reads --tools: every name must be a tool, and the delete
// tool may be named only when it is enabled (or read-only mode drops it anyway).
func parseToolList(list string, readOnly, enableDelete bool) ([]string, error) {
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		if name = strings.TrimSpace(name); name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	if strings.TrimSpace(list) != "" && len(names) == 0 {
		return nil, fmt.Errorf("--tools %q names no tool; the tools are %s", list, strings.Join(tools.ToolNames(), ", "))
	}
	if err := tools.CheckToolNames(names); err != nil {
		return nil, fmt.Errorf("--tools: %w", err)
	}
	if slices.Contains(names, tools.DeleteToolName) && !enableDelete && !readOnly {
		return nil, fmt.Errorf("--tools names %s, which is off unless --enable-delete is also given", tools.DeleteToolName)
	}
	return names, nil
}

// canonicalAccountUUID checks the configured account uuid and writes it in
// lower case, as Plannr does; empty stays empty.
func canonicalAccountUUID(uuid string) (string, error) {
	if strings.TrimSpace(uuid) == "" {
		return "", nil
	}
	canonical, ok := plannr.CanonicalUUID(uuid)
	if !ok {
		return "", fmt.Errorf("--account-uuid (%s) %q is not a uuid such as 5f0c1e7a-2b4d-4c6e-8f10-3a5b7c9d1e2f; run plannr-mcp accounts to see the account uuids the credential can act for", envAccountUUID, untrusted.Truncate(uuid, 60))
	}
	return canonical, nil
}

// readStateKey reads the key that signs cursors and confirmations: from the
// file if one is named, else the variable's value; none means random.
func readStateKey(value, file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading the state key file: %w", err)
		}
		value = strings.TrimSpace(string(b))
		if value == "" {
			return nil, fmt.Errorf("state key file %s is empty", file)
		}
	}
	if value != "" && len(value) < tools.MinStateKeyLength {
		return nil, fmt.Errorf("the state key (%s or --state-key-file) is %d bytes long; use at least %d random bytes, such as the output of: openssl rand -base64 32", envStateKey, len(value), tools.MinStateKeyLength)
	}
	return []byte(value), nil
}

// parseBytes reads a size: a number of bytes, or one with a KiB, MiB or GiB suffix.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = strings.TrimSpace(n), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return n * mult, nil
}

// formatBytes writes a size as parseBytes reads it.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}

func envOr(getenv func(string) string, key, fallback string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return fallback
}

// parseArgs parses flags that may come before, between or after positional
// arguments, so that "call list_oauth_connections --sandbox" works.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// newLogger writes structured logs to stderr only: in stdio mode stdout
// carries protocol messages and nothing else.
func newLogger(stderr io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// parseFlags parses a command line of flags only and finishes the config.
func parseFlags(fs *flag.FlagSet, args []string, finish func() (*config, error)) (*config, error) {
	rest, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, unexpectedArgs(rest)
	}
	cfg, err := finish()
	return cfg, badUsage(err)
}

func unexpectedArgs(args []string) error {
	return badUsage(fmt.Errorf("unexpected arguments: %s", strings.Join(args, " ")))
}

// loginStore is the store of the OAuth2 login: --config-dir or
// PLANNR_MCP_CONFIG_DIR, else plannr-mcp in the user's configuration directory.
func (c *config) loginStore(logger *slog.Logger) (*auth.Store, error) {
	dir := c.configDir
	if dir == "" {
		d, err := auth.DefaultDir()
		if err != nil {
			return nil, fmt.Errorf("%w; set %s to a directory for the login", err, envConfigDir)
		}
		dir = d
	}
	return auth.NewStore(dir, logger), nil
}
