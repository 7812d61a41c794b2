package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
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
	envToken       = "PLANNR_TOKEN"
	envTokenFile   = "PLANNR_TOKEN_FILE"
	envBaseURL     = "PLANNR_BASE_URL"
	envAccountUUID = "PLANNR_ACCOUNT_UUID"
	envLogLevel    = "PLANNR_MCP_LOG_LEVEL"
	envTimeout     = "PLANNR_TIMEOUT"
	envReadOnly    = "PLANNR_MCP_READ_ONLY"
	envTools       = "PLANNR_MCP_TOOLS"

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
)

// newFlagSet declares the flags shared by every command. The returned
// function finishes the config after parsing.
func newFlagSet(name string, stderr io.Writer, getenv func(string) string) (*flag.FlagSet, func() (*config, error)) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	logLevel := envOr(getenv, envLogLevel, "info")
	timeout := envOr(getenv, envTimeout, plannr.DefaultTimeout.String())
	fs.BoolVar(&cfg.sandbox, "sandbox", false, "serve against the built-in fake Plannr with sample data; needs no credentials")
	fs.StringVar(&cfg.tokenFile, "token-file", getenv(envTokenFile), "file holding a Plannr Personal Access Token (env "+envTokenFile+"; or set "+envToken+")")
	fs.StringVar(&cfg.baseURL, "base-url", envOr(getenv, envBaseURL, plannr.DefaultBaseURL), "Plannr API base URL (env "+envBaseURL+")")
	fs.StringVar(&cfg.accountUUID, "account-uuid", getenv(envAccountUUID), "account to act for, sent as X-PLANNR-ACCOUNT-UUID (env "+envAccountUUID+")")
	fs.StringVar(&logLevel, "log-level", logLevel, "debug, info, warn or error; logs go to stderr (env "+envLogLevel+")")
	fs.StringVar(&timeout, "timeout", timeout, "time limit for one Plannr request, retries and waits included (env "+envTimeout+")")
	retryMax := envOr(getenv, envRetryMax, strconv.Itoa(plannr.DefaultMaxRetries))
	attemptTimeout := envOr(getenv, envAttemptTimeout, plannr.DefaultAttemptTimeout.String())
	rateLimit := envOr(getenv, envRateLimit, strconv.Itoa(plannr.DefaultRateLimit().Requests))
	listCacheTTL := envOr(getenv, envListCacheTTL, "0s")
	fs.StringVar(&retryMax, "retry-max", retryMax, "how many times to retry a request after a 429, 502, 503, 504, reset or timeout; 0 turns retries off (env "+envRetryMax+")")
	fs.StringVar(&attemptTimeout, "attempt-timeout", attemptTimeout, "time limit for one attempt, after which it is retried; 0 leaves only --timeout (env "+envAttemptTimeout+")")
	fs.StringVar(&rateLimit, "rate-limit", rateLimit, "most requests per minute to send Plannr; 0 turns client-side limiting off (env "+envRateLimit+")")
	fs.StringVar(&listCacheTTL, "list-cache-ttl", listCacheTTL, "how long to reuse a list of connections, such as 5s; 0 turns caching off (env "+envListCacheTTL+")")
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
	return finish()
}

func unexpectedArgs(args []string) error {
	return fmt.Errorf("unexpected arguments: %s", strings.Join(args, " "))
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
