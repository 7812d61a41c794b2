package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/httpserve"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// Transports the serve command speaks.
const (
	transportStdio = "stdio"
	transportHTTP  = "http"
)

// config is a command's settings, parsed. Only the groups the command
// takes are filled in.
type config struct {
	// groupPlannr
	baseURL  string
	timeout  time.Duration
	logLevel slog.Level

	// groupCredential
	token       string // a Personal Access Token from PLANNR_TOKEN
	tokenFile   string
	accountUUID string
	sandbox     bool

	// groupStore
	configDir string

	// groupClient
	retryMax       int
	attemptTimeout time.Duration
	rateLimit      int
	listCacheTTL   time.Duration
	maxResponse    int64

	// groupToolset
	readOnly     bool
	enableDelete bool
	tools        []string
	stateKey     []byte
	noUI         bool
	// reauthorizeWait bounds the wait for a person to re-authorize.
	reauthorizeWait time.Duration

	// groupTransport
	transport       string
	shutdownTimeout time.Duration
	http            httpserve.Config
	metricsAddr     string

	// groupLogin
	clientID         string
	clientSecret     string // from PLANNR_CLIENT_SECRET
	clientSecretFile string // wins over clientSecret
	redirectURL      string
	noBrowser        bool
	loginTimeout     time.Duration

	// groupSandboxAPI
	sandboxAddr  string
	sandboxToken string
	redirectURLs []string

	// groupAuthStatus
	offline bool

	// groupRemote and groupStoreDB
	remote remoteConfig

	// graphical reports a session where a browser can open.
	graphical bool
	// gomaxprocs reports GOMAXPROCS set in the environment.
	gomaxprocs bool
	// otel holds the OpenTelemetry variables that are set.
	otel map[string]string
}

// parse turns the settings of groups into a config; an error names the
// flag or variable at fault and is a usage error.
func (s *settings) parse(groups ...group) (*config, error) {
	c := &config{graphical: s.graphical, gomaxprocs: s.gomaxprocs, otel: s.otel}
	p := parser{s: s}
	for _, g := range groups {
		switch g {
		case groupPlannr:
			c.baseURL = s.get(keyBaseURL)
			c.timeout = p.positiveDuration(keyTimeout)
			if err := c.logLevel.UnmarshalText([]byte(s.get(keyLogLevel))); err != nil {
				p.fail(keyLogLevel, "use debug, info, warn or error")
			}
		case groupCredential:
			c.token = strings.TrimSpace(s.get(keyToken))
			c.tokenFile = s.get(keyTokenFile)
			c.sandbox = p.boolean(keySandbox)
			if raw := s.get(keyAccountUUID); strings.TrimSpace(raw) != "" {
				uuid, ok := plannr.CanonicalUUID(raw)
				if !ok {
					p.fail(keyAccountUUID, "is not a uuid such as 5f0c1e7a-2b4d-4c6e-8f10-3a5b7c9d1e2f; run plannr-mcp accounts to see the account uuids the credential can act for")
				}
				c.accountUUID = uuid
			}
		case groupStore:
			c.configDir = s.get(keyConfigDir)
		case groupClient:
			c.retryMax = p.count(keyRetryMax, "use a whole number, 0 or more")
			c.attemptTimeout = p.duration(keyAttemptTimeout, "use a duration such as 10s, or 0")
			c.rateLimit = p.count(keyRateLimit, "use requests per minute, such as 500, or 0 to turn limiting off")
			c.listCacheTTL = p.duration(keyListCacheTTL, "use a duration such as 5s, or 0 to turn caching off")
			c.maxResponse = p.size(keyMaxResponse)
		case groupToolset:
			c.readOnly = p.boolean(keyReadOnly)
			c.enableDelete = p.boolean(keyEnableDelete)
			c.tools = p.toolList(c.readOnly, c.enableDelete)
			c.stateKey = p.stateKey()
			c.noUI = p.boolean(keyNoUI)
			c.reauthorizeWait = p.positiveDuration(keyReauthorizeWait)
		case groupTransport:
			c.transport = strings.ToLower(s.get(keyTransport))
			if c.transport != transportStdio && c.transport != transportHTTP {
				p.fail(keyTransport, "use stdio or http")
			}
			c.shutdownTimeout = p.positiveDuration(keyShutdownTimeout)
			c.http = p.httpConfig(c.transport == transportHTTP)
			c.http.ShutdownTimeout = c.shutdownTimeout
			c.metricsAddr = strings.TrimSpace(s.get(keyMetricsAddr))
		case groupLogin:
			c.clientID = strings.TrimSpace(s.get(keyClientID))
			c.redirectURL = s.get(keyRedirectURL)
			c.noBrowser = p.boolean(keyNoBrowser)
			c.loginTimeout = p.positiveDuration(keyLoginTimeout)
			c.clientSecret = strings.TrimSpace(s.get(keyClientSecret))
			c.clientSecretFile = s.get(keyClientSecretFile)
		case groupAuthStatus:
			c.offline = p.boolean(keyOffline)
		case groupRemote, groupStoreDB:
			p.remote(g, c)
		case groupSandboxAPI:
			c.sandboxAddr = s.get(keySandboxAddr)
			c.sandboxToken = s.get(keySandboxToken)
			c.redirectURLs = splitList(s.get(keyRedirectURLs))
			if c.sandboxToken == "" {
				p.fail(keySandboxToken, "must not be empty")
			}
		}
	}
	if p.err != nil {
		return nil, badUsage(p.err)
	}
	return c, nil
}

// parser converts settings, keeping the first error.
type parser struct {
	s   *settings
	err error
}

func (p *parser) fail(key, advice string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s %q: %s", p.s.name(key), untrusted.Truncate(p.s.get(key), 60), advice)
	}
}

func (p *parser) boolean(key string) bool {
	v, err := strconv.ParseBool(p.s.get(key))
	if err != nil {
		p.fail(key, "use true or false")
	}
	return v
}

func (p *parser) duration(key, advice string) time.Duration {
	d, err := time.ParseDuration(p.s.get(key))
	if err != nil || d < 0 {
		p.fail(key, advice)
	}
	return d
}

func (p *parser) positiveDuration(key string) time.Duration {
	d, err := time.ParseDuration(p.s.get(key))
	if err != nil || d <= 0 {
		p.fail(key, "use a positive duration such as 30s")
	}
	return d
}

func (p *parser) count(key, advice string) int {
	n, err := strconv.Atoi(p.s.get(key))
	if err != nil || n < 0 {
		p.fail(key, advice)
	}
	return n
}

func (p *parser) positive(key, advice string) int64 {
	n, err := strconv.ParseInt(p.s.get(key), 10, 64)
	if err != nil || n <= 0 {
		p.fail(key, advice)
	}
	return n
}

func (p *parser) size(key string) int64 {
	n, err := parseBytes(p.s.get(key))
	if err != nil || n <= 0 {
		p.fail(key, "use a size such as 32MiB, 500KiB or 1048576 (bytes)")
	}
	return n
}

// toolList reads --tools: every name must be a tool, and the delete tool
// may be named only when it is enabled (or read-only mode drops it anyway).
func (p *parser) toolList(readOnly, enableDelete bool) []string {
	list := p.s.get(keyTools)
	var names []string
	for _, name := range splitList(list) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	switch {
	case strings.TrimSpace(list) != "" && len(names) == 0:
		p.fail(keyTools, "names no tool; the tools are "+strings.Join(tools.ToolNames(), ", "))
	case tools.CheckToolNames(names) != nil:
		if p.err == nil {
			p.err = fmt.Errorf("%s: %w", p.s.name(keyTools), tools.CheckToolNames(names))
		}
	case slices.Contains(names, tools.DeleteToolName) && !enableDelete && !readOnly:
		if p.err == nil {
			p.err = fmt.Errorf("%s names %s, which is off unless --enable-delete is also given", p.s.name(keyTools), tools.DeleteToolName)
		}
	}
	return names
}

// stateKey reads the key that signs cursors and confirmations: from the
// file if one is named, else PLANNR_MCP_STATE_KEY; none means random.
func (p *parser) stateKey() []byte {
	value := p.s.get(keyStateKey)
	if file := p.s.get(keyStateKeyFile); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			p.err = cmpErr(p.err, fmt.Errorf("reading the state key file: %w", err))
			return nil
		}
		if value = strings.TrimSpace(string(b)); value == "" {
			p.err = cmpErr(p.err, fmt.Errorf("state key file %s is empty", file))
			return nil
		}
	}
	if value != "" && len(value) < tools.MinStateKeyLength {
		p.err = cmpErr(p.err, fmt.Errorf("the state key (PLANNR_MCP_STATE_KEY or --state-key-file) is %d bytes long; use at least %d random bytes, such as the output of: openssl rand -base64 32", len(value), tools.MinStateKeyLength))
	}
	return []byte(value)
}

// httpConfig reads the HTTP transport's settings. Client tokens are read
// only when HTTP is served.
func (p *parser) httpConfig(serving bool) httpserve.Config {
	c := httpserve.Config{
		Addr:               p.s.get(keyAddr),
		Stateless:          p.boolean(keyStateless),
		MaxBodyBytes:       p.positive(keyMaxBodyBytes, "use a positive number of bytes"),
		MaxSessions:        int(p.positive(keyMaxSessions, "use a positive number")),
		SessionIdleTimeout: p.positiveDuration(keySessionIdle),
		ReadHeaderTimeout:  p.positiveDuration(keyReadHeader),
		ReadTimeout:        p.positiveDuration(keyReadTimeout),
		IdleTimeout:        p.positiveDuration(keyIdleTimeout),
		AllowedOrigins:     splitList(p.s.get(keyAllowedOrigins)),
	}
	for _, v := range splitList(p.s.get(keyTrustedProxies)) {
		prefix, err := netip.ParsePrefix(v)
		if err != nil {
			addr, aerr := netip.ParseAddr(v)
			if aerr != nil {
				p.err = cmpErr(p.err, fmt.Errorf("%s: %q is not a CIDR such as 10.0.0.0/8", p.s.name(keyTrustedProxies), v))
				continue
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
	}
	if !serving {
		return c
	}
	tokens, err := httpserve.ParseTokens(p.s.get(keyAuthTokens))
	if err != nil {
		p.err = cmpErr(p.err, fmt.Errorf("PLANNR_MCP_AUTH_TOKENS: %w", err))
	}
	if file := p.s.get(keyAuthTokenFile); file != "" {
		fromFile, err := httpserve.ReadTokenFile(file)
		if err != nil {
			p.err = cmpErr(p.err, err)
		}
		tokens = append(tokens, fromFile...)
	}
	c.Tokens = tokens
	return c
}

// cmpErr keeps the first error.
func cmpErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// errSizeUnit reports a size that is not bytes, KiB, MiB or GiB.
var errSizeUnit = errors.New("not a size")

// parseBytes reads a size: a number of bytes, or one with a KiB, MiB or GiB suffix.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("%w: %q", errSizeUnit, s)
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

// loginStore is the store of the OAuth2 login: --config-dir or
// PLANNR_MCP_CONFIG_DIR, else plannr-mcp in the user's configuration directory.
func (c *config) loginStore(logger *slog.Logger) (*auth.Store, error) {
	dir := c.configDir
	if dir == "" {
		d, err := auth.DefaultDir()
		if err != nil {
			return nil, fmt.Errorf("%w; set PLANNR_MCP_CONFIG_DIR to a directory for the login", err)
		}
		dir = d
	}
	return auth.NewStore(dir, logger), nil
}

// patInUse names the Personal Access Token setting that takes precedence
// over the stored login, if one is set.
func (c *config) patInUse() string {
	switch {
	case c.token != "":
		return "PLANNR_TOKEN"
	case c.tokenFile != "":
		return "--token-file (or PLANNR_TOKEN_FILE)"
	}
	return ""
}
