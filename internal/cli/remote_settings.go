package cli

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/authserver"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
)

// The remote mode's groups of settings. They count from 100, so that they
// never collide with the groups of settings.go.
const (
	// groupRemote is the HTTP transport's authentication mode and the
	// authorization server's settings.
	groupRemote group = 100 + iota
	// groupStoreDB is the remote mode's store and its key.
	groupStoreDB
)

// Authentication modes of the HTTP transport.
const (
	authTokens = "tokens"
	authOAuth  = "oauth"
)

// Keys of the remote mode's settings.
const (
	keyAuthMode        = "auth"
	keyPublicURL       = "public-url"
	keyOAuthAccessTTL  = "oauth-access-ttl"
	keyOAuthRefreshTTL = "oauth-refresh-ttl"
	keyInsecureMeta    = "insecure-metadata-urls"
	keyStoreSpec       = "store"
	keyStoreKey        = "store-key"
	keyStoreKeyFile    = "store-key-file"
	keyStoreOldKeys    = "store-old-keys"
)

// remoteSpecs declares the remote mode's settings.
func remoteSpecs() []spec {
	return []spec{
		{key: keyAuthMode, group: groupRemote, flag: "auth", env: "PLANNR_MCP_AUTH", def: authTokens, help: "HTTP: tokens (clients send a client token; the server acts with its own Plannr credential) or oauth (each person signs in with their own Plannr login, MCP authorization)"},
		{key: keyPublicURL, group: groupRemote, flag: "public-url", env: "PLANNR_MCP_PUBLIC_URL", help: "HTTP, oauth: the server's URL as clients reach it, such as https://mcp.example.com; default http://ADDR on a loopback address"},
		{key: keyOAuthAccessTTL, group: groupRemote, flag: "oauth-access-ttl", env: "PLANNR_MCP_OAUTH_ACCESS_TTL", def: authserver.DefaultAccessTTL.String(), help: "HTTP, oauth: lifetime of the MCP access tokens the server issues"},
		{key: keyOAuthRefreshTTL, group: groupRemote, flag: "oauth-refresh-ttl", env: "PLANNR_MCP_OAUTH_REFRESH_TTL", def: authserver.DefaultRefreshTTL.String(), help: "HTTP, oauth: lifetime of an unused MCP refresh token; each refresh renews it"},
		{key: keyInsecureMeta, group: groupRemote, env: "PLANNR_MCP_INSECURE_METADATA_URLS", def: "false"},

		{key: keyStoreSpec, group: groupStoreDB, flag: "store", env: "PLANNR_MCP_STORE", help: "HTTP, oauth: where people, grants and their encrypted Plannr tokens are kept: a SQLite file (default " + store.DefaultFileName + " in the configuration directory) or a postgres:// URL, for replicas"},
		{key: keyStoreKey, group: groupStoreDB, env: "PLANNR_MCP_STORE_KEY"},
		{key: keyStoreKeyFile, group: groupStoreDB, flag: "store-key-file", env: "PLANNR_MCP_STORE_KEY_FILE", help: "file holding the key that encrypts the people's Plannr tokens in the store (or set PLANNR_MCP_STORE_KEY); at least 32 random bytes"},
		{key: keyStoreOldKeys, group: groupStoreDB, env: "PLANNR_MCP_STORE_OLD_KEYS"},
	}
}

// allSpecs is every setting: settings.go's and the remote mode's.
func allSpecs() []spec { return append(settingSpecs(), remoteSpecs()...) }

// remoteConfig is the remote mode's settings, parsed.
type remoteConfig struct {
	// groupRemote
	mode             string
	publicURL        string
	accessTTL        time.Duration
	refreshTTL       time.Duration
	insecureMetadata bool

	// groupStoreDB
	storeSpec string
	storeKey  string
	oldKeys   []string
}

// oauth reports the remote mode.
func (r remoteConfig) oauth() bool { return r.mode == authOAuth }

// remote parses the remote mode's groups.
func (p *parser) remote(g group, c *config) {
	r := &c.remote
	switch g {
	case groupRemote:
		r.mode = strings.ToLower(p.s.get(keyAuthMode))
		if r.mode != authTokens && r.mode != authOAuth {
			p.fail(keyAuthMode, "use tokens or oauth")
		}
		r.publicURL = strings.TrimRight(strings.TrimSpace(p.s.get(keyPublicURL)), "/")
		if r.publicURL != "" {
			if u, err := url.Parse(r.publicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				p.fail(keyPublicURL, "write the URL clients reach the server at, scheme and host only, such as https://mcp.example.com")
			}
		}
		r.accessTTL = p.positiveDuration(keyOAuthAccessTTL)
		r.refreshTTL = p.positiveDuration(keyOAuthRefreshTTL)
		r.insecureMetadata = p.boolean(keyInsecureMeta)
		// The Plannr client that signs people in is login's:
		// PLANNR_CLIENT_ID and its secret, from the environment.
		c.clientID = strings.TrimSpace(p.s.get(keyClientID))
		c.clientSecret = strings.TrimSpace(p.s.get(keyClientSecret))
		c.clientSecretFile = p.s.get(keyClientSecretFile)
	case groupStoreDB:
		r.storeSpec = strings.TrimSpace(p.s.get(keyStoreSpec))
		if p.s.source[keyStoreSpec] == "--store" && store.Password(r.storeSpec) != "" {
			// A flag's value shows in ps, as a secret must not.
			p.err = cmpErr(p.err, errors.New("--store carries a password, which other users could read in ps: set PLANNR_MCP_STORE instead, or keep the password in PGPASSWORD or ~/.pgpass"))
		}
		r.storeKey = strings.TrimSpace(p.s.get(keyStoreKey))
		if file := p.s.get(keyStoreKeyFile); file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				p.err = cmpErr(p.err, fmt.Errorf("reading the store key file: %w", err))
			}
			r.storeKey = strings.TrimSpace(string(b))
		}
		r.oldKeys = splitList(p.s.get(keyStoreOldKeys))
	}
}

// storeSpec is where the store is: --store, else the SQLite file in the
// configuration directory.
func (c *config) storeSpec() (string, error) {
	if c.remote.storeSpec != "" {
		return c.remote.storeSpec, nil
	}
	dir := c.configDir
	if dir == "" {
		d, err := auth.DefaultDir()
		if err != nil {
			return "", fmt.Errorf("%w; set PLANNR_MCP_STORE, or PLANNR_MCP_CONFIG_DIR", err)
		}
		dir = d
	}
	return filepath.Join(dir, store.DefaultFileName), nil
}

// storeKeyHelp says how to give the store a key.
const storeKeyHelp = "set PLANNR_MCP_STORE_KEY (or --store-key-file) to at least 32 random bytes, such as the output of: openssl rand -base64 32; keep it in your secret store and give every replica the same one"

// keyring is the store's keyring; without a key, an error unless random
// is allowed (the sandbox's throwaway store, and commands that decrypt
// nothing).
func (c *config) keyring(random bool) (*store.Keyring, error) {
	if c.remote.storeKey == "" {
		if random {
			return store.RandomKeyring(), nil
		}
		return nil, badUsage(fmt.Errorf("no store key: %s", storeKeyHelp))
	}
	k, err := store.NewKeyring(c.remote.storeKey, c.remote.oldKeys...)
	if err != nil {
		return nil, badUsage(fmt.Errorf("PLANNR_MCP_STORE_KEY: %w", err))
	}
	return k, nil
}
