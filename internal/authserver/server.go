// Package authserver makes plannr-mcp an OAuth 2.1 authorization server in
// front of Plannr and a protected resource, per the MCP authorization
// specification: each person adds the server to an MCP client by URL,
// allows the client on a consent page served here, signs in with their own
// Plannr login (plannr-mcp's Plannr client, state and PKCE towards Plannr
// too), and the client receives MCP tokens of this server's own. MCP clients
// never see a Plannr token and Plannr never sees an MCP token.
//
// It serves RFC 9728 protected resource metadata, RFC 8414 authorization
// server metadata, /authorize with the consent page, Plannr's callback,
// /token (authorization code with PKCE S256, rotating refresh tokens with
// reuse detection), /revoke (RFC 7009) and /register (RFC 7591); clients
// also register by Client ID Metadata Document, an https client_id the
// server fetches under SSRF guards. Everything it must remember is in a
// store.Store, so replicas share it.
package authserver

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// Paths the server answers.
const (
	ResourceMetadataPath = "/.well-known/oauth-protected-resource"
	ServerMetadataPath   = "/.well-known/oauth-authorization-server"
	AuthorizePath        = "/authorize"
	TokenPath            = "/token"
	RevokePath           = "/revoke"
	RegisterPath         = "/register"
	// CallbackPath is the redirect URL to register with Plannr, below the
	// public URL.
	CallbackPath = "/oauth/plannr/callback"
)

// Scope is the one scope the server grants: acting on Plannr as the person.
const Scope = "plannr"

// Defaults for Config.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 30 * 24 * time.Hour
	codeTTL           = time.Minute
	pendingTTL        = 10 * time.Minute
	userCookieTTL     = 30 * 24 * time.Hour
	touchEvery        = time.Minute
)

// Config configures a Server.
type Config struct {
	// PublicURL is the server's URL as clients reach it: scheme and host,
	// no path, such as https://mcp.example.com. The MCP endpoint below it
	// is the resource its tokens are for (RFC 8707).
	PublicURL string
	// Endpoint is the MCP endpoint's path, such as /mcp.
	Endpoint string
	// Store keeps clients, consents, codes, token families and the
	// people's Plannr tokens.
	Store store.Store
	// Keys signs the remembered-person cookie; the store's keyring.
	Keys *store.Keyring
	// Plannr is plannr-mcp's own client registered with Plannr, whose
	// redirect URL is PublicURL + CallbackPath.
	Plannr *auth.Client
	// Capabilities say what a client allowed will be able to do, for the
	// consent page.
	Capabilities []string
	// AccessTTL and RefreshTTL are the MCP tokens' lifetimes; zero means
	// the defaults.
	AccessTTL, RefreshTTL time.Duration
	// InsecureMetadataURLs lets a Client ID Metadata Document be fetched
	// over plain http and from loopback and private addresses. For tests
	// only: it turns off the SSRF guards.
	InsecureMetadataURLs bool
	// Secrets are the process's secrets; answers fetched are scrubbed.
	Secrets *untrusted.Secrets
	// Logger receives what happened, never a token, code or secret.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnSignIn, if set, is told the outcome of each sign-in with Plannr
	// that came back: one of the SignIn constants, for metrics.
	OnSignIn func(outcome string)
}

// Outcomes of a sign-in with Plannr, as Config.OnSignIn is told them.
const (
	// SignInSucceeded: the person signed in and their Plannr tokens are stored.
	SignInSucceeded = "success"
	// SignInDenied: the person, or Plannr, did not authorize it.
	SignInDenied = "denied"
	// SignInRefused: this server refused it (another browser, no consent).
	SignInRefused = "refused"
	// SignInFailed: the code exchange or the store failed.
	SignInFailed = "failed"
)

// Server is the authorization server and the resource's token check.
type Server struct {
	cfg      Config
	issuer   string
	resource string
	secure   bool // the public URL is https: cookies are __Host- and Secure
	fetch    *http.Client
	log      *slog.Logger
	store    store.Store
	pages    pages

	mu      sync.Mutex
	touched map[string]time.Time // family -> last recorded use
}

// New checks cfg and returns the server.
func New(cfg Config) (*Server, error) {
	u, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("public URL %q: write it as clients reach the server, scheme and host only, such as https://mcp.example.com", cfg.PublicURL)
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("public URL %q: use https (terminate TLS in front of plannr-mcp); plain http is only for loopback", cfg.PublicURL)
	}
	if cfg.Store == nil || cfg.Keys == nil || cfg.Plannr == nil {
		return nil, errors.New("authserver: a store, its keyring and the Plannr client are required")
	}
	cfg.Endpoint = cmp.Or(cfg.Endpoint, "/mcp")
	cfg.AccessTTL = cmp.Or(cfg.AccessTTL, DefaultAccessTTL)
	cfg.RefreshTTL = cmp.Or(cfg.RefreshTTL, DefaultRefreshTTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OnSignIn == nil {
		cfg.OnSignIn = func(string) {}
	}
	issuer := u.Scheme + "://" + u.Host
	s := &Server{
		cfg:      cfg,
		issuer:   issuer,
		resource: issuer + cfg.Endpoint,
		secure:   u.Scheme == "https",
		log:      cfg.Logger,
		store:    cfg.Store,
		pages:    parsePages(),
		touched:  map[string]time.Time{},
	}
	s.fetch = newMetadataClient(cfg.InsecureMetadataURLs, cfg.Secrets)
	return s, nil
}

// Issuer is the authorization server's issuer identifier: the public URL.
func (s *Server) Issuer() string { return s.issuer }

// Resource is the protected resource's identifier: the MCP endpoint's URL.
func (s *Server) Resource() string { return s.resource }

// ResourceMetadataURL is the URL of the MCP endpoint's protected resource
// metadata, which a 401 names.
func (s *Server) ResourceMetadataURL() string {
	return s.issuer + ResourceMetadataPath + s.cfg.Endpoint
}

// Handlers returns the server's endpoints by mux pattern.
func (s *Server) Handlers() map[string]http.Handler {
	cors := allowAnyOrigin
	return map[string]http.Handler{
		ResourceMetadataPath:                  cors(s.resourceMetadata),
		ResourceMetadataPath + s.cfg.Endpoint: cors(s.resourceMetadata),
		ServerMetadataPath:                    cors(s.serverMetadata),
		AuthorizePath:                         http.HandlerFunc(s.authorize),
		TokenPath:                             cors(s.token),
		RevokePath:                            cors(s.revoke),
		RegisterPath:                          cors(s.register),
		CallbackPath:                          http.HandlerFunc(s.callback),
	}
}

// allowAnyOrigin lets browser-based clients read the metadata and use the
// token, revocation and registration endpoints, which take no cookies.
func allowAnyOrigin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Mcp-Protocol-Version")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	})
}

func (s *Server) resourceMetadata(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"resource":                 s.resource,
		"authorization_servers":    []string{s.issuer},
		"scopes_supported":         []string{Scope},
		"bearer_methods_supported": []string{"header"},
		"resource_name":            "plannr-mcp",
	})
}

func (s *Server) serverMetadata(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                         s.issuer,
		"authorization_endpoint":                         s.issuer + AuthorizePath,
		"token_endpoint":                                 s.issuer + TokenPath,
		"revocation_endpoint":                            s.issuer + RevokePath,
		"registration_endpoint":                          s.issuer + RegisterPath,
		"scopes_supported":                               []string{Scope},
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"none", "client_secret_post", "client_secret_basic"},
		"revocation_endpoint_auth_methods_supported":     []string{"none", "client_secret_post", "client_secret_basic"},
		"client_id_metadata_document_supported":          true,
		"authorization_response_iss_parameter_supported": true,
	})
}

func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	return true
}

// writeJSON answers with v, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// oauthError answers with RFC 6749's error body.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="plannr-mcp"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// Kinds of the values the server issues, which prefix them.
const (
	prefixAccess  = "pmcp_at_"
	prefixRefresh = "pmcp_rt_"
	prefixCode    = "pmcp_ac_"
	prefixSecret  = "pmcp_cs_"
)

// newValue returns a new unguessable value (160 bits) of a kind.
func newValue(prefix string) string {
	return prefix + strings.ToLower(rand.Text()) + strings.ToLower(rand.Text()[:6])
}

// hash is how a value is stored: its SHA-256, never the value.
func hash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// newID returns a random id for rows.
func newID(prefix string) string { return prefix + strings.ToLower(rand.Text()) }

// loopbackHost reports localhost or a loopback address.
func loopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
