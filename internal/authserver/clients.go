package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// client is a registered client, as the server uses it.
type client struct {
	id           string
	kind         string
	name         string
	redirectURIs []string
	secretHash   string // base64url of SHA-256; empty for a public client
}

// metadata is the part of RFC 7591's client metadata the server reads.
type metadata struct {
	ClientID                string   `json:"client_id,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	ClientSecret            string   `json:"client_secret,omitempty"`
}

// Limits of what a client may register.
const (
	maxRegistrationBytes = 16 << 10
	maxMetadataBytes     = 16 << 10
	maxRedirectURIs      = 10
	maxNameLength        = 120
	metadataTimeout      = 5 * time.Second
	minMetadataCache     = 5 * time.Minute
	maxMetadataCache     = 24 * time.Hour
	defaultMetadataCache = time.Hour
)

// errClient is an error about a client that a person or client can act on.
type errClient struct{ msg string }

func (e *errClient) Error() string { return e.msg }

func clientErr(format string, args ...any) error {
	return &errClient{msg: fmt.Sprintf(format, args...)}
}

// lookupClient finds a client: a registered one by its id, or, for an
// https client_id, its Client ID Metadata Document (cached in the store).
func (s *Server) lookupClient(ctx context.Context, id string) (*client, error) {
	row, err := s.store.Client(ctx, id)
	if err == nil {
		return clientFromRow(row)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if !strings.Contains(id, "://") {
		return nil, clientErr("client_id %s is not registered with this server: register it again (dynamic client registration) or use a client ID metadata document", untrusted.Quote(untrusted.Truncate(id, 80)))
	}
	return s.fetchMetadataDocument(ctx, id)
}

func clientFromRow(row store.Client) (*client, error) {
	var m metadata
	if err := json.Unmarshal(row.Metadata, &m); err != nil {
		return nil, fmt.Errorf("stored client %s is unreadable: %w", row.ID, err)
	}
	return &client{id: row.ID, kind: row.Kind, name: m.ClientName, redirectURIs: m.RedirectURIs, secretHash: row.SecretHash}, nil
}

// register is RFC 7591's dynamic client registration, open to anyone as
// the MCP specification has it: a client gets an id, and a secret if it
// asks to be confidential.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "send the client metadata as application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistrationBytes))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", fmt.Sprintf("the metadata could not be read (at most %d bytes)", maxRegistrationBytes))
		return
	}
	var m metadata
	if err := json.Unmarshal(body, &m); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "the metadata is not a JSON object of RFC 7591's fields")
		return
	}
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = "client_secret_basic"
	}
	if err := checkMetadata(&m); err != nil {
		code := "invalid_client_metadata"
		if strings.Contains(err.Error(), "redirect") {
			code = "invalid_redirect_uri"
		}
		oauthError(w, http.StatusBadRequest, code, err.Error())
		return
	}
	now := s.cfg.Now()
	id := newID("pmcp_client_")
	var secret, secretHash string
	if m.TokenEndpointAuthMethod != "none" {
		secret = newValue(prefixSecret)
		sum := sha256.Sum256([]byte(secret))
		secretHash = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	m.ClientID, m.ClientSecret = "", ""
	stored, _ := json.Marshal(m)
	if err := s.store.PutClient(r.Context(), store.Client{ID: id, Kind: store.ClientDynamic, Metadata: stored, SecretHash: secretHash, CreatedAt: now}); err != nil {
		s.serverError(w, "registering a client", err)
		return
	}
	s.log.Info("registered a client", "client", id, "name", untrusted.Text(m.ClientName))
	out := map[string]any{
		"client_id":                  id,
		"client_id_issued_at":        now.Unix(),
		"client_name":                m.ClientName,
		"redirect_uris":              m.RedirectURIs,
		"grant_types":                m.GrantTypes,
		"response_types":             m.ResponseTypes,
		"token_endpoint_auth_method": m.TokenEndpointAuthMethod,
		"scope":                      Scope,
	}
	if secret != "" {
		out["client_secret"] = secret
		out["client_secret_expires_at"] = 0
	}
	writeJSON(w, http.StatusCreated, out)
}

// checkMetadata validates and completes client metadata.
func checkMetadata(m *metadata) error {
	if len(m.RedirectURIs) == 0 {
		return errors.New("redirect_uris is required: list the URLs the authorization answer may be sent to")
	}
	if len(m.RedirectURIs) > maxRedirectURIs {
		return fmt.Errorf("at most %d redirect_uris", maxRedirectURIs)
	}
	for _, u := range m.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return err
		}
	}
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	for _, g := range m.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return fmt.Errorf("grant type %s is not supported; use authorization_code and refresh_token", untrusted.Quote(untrusted.Truncate(g, 40)))
		}
	}
	if len(m.ResponseTypes) == 0 {
		m.ResponseTypes = []string{"code"}
	}
	if !slices.Equal(m.ResponseTypes, []string{"code"}) {
		return errors.New("only the response type code is supported")
	}
	switch m.TokenEndpointAuthMethod {
	case "none", "client_secret_post", "client_secret_basic":
	default:
		return fmt.Errorf("token_endpoint_auth_method %s is not supported; use none, client_secret_post or client_secret_basic", untrusted.Quote(untrusted.Truncate(m.TokenEndpointAuthMethod, 40)))
	}
	m.ClientName = untrusted.Truncate(untrusted.Text(m.ClientName), maxNameLength)
	return nil
}

// validScheme reports a URI scheme as RFC 3986 writes it, in lower case.
func validScheme(s string) bool {
	for i, c := range s {
		letter := c >= 'a' && c <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-')) {
			return false
		}
	}
	return s != ""
}

// checkRedirectURI accepts an https URL, an http URL on loopback (for
// native apps, RFC 8252), or a native app's private-use scheme; never a
// fragment, and none of the schemes a browser would run.
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	bad := func(why string) error {
		return fmt.Errorf("redirect URI %s %s", untrusted.Quote(untrusted.Truncate(raw, 100)), why)
	}
	switch {
	case err != nil || u.Scheme == "" || !validScheme(u.Scheme):
		return bad("is not an absolute URI")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("must not have a fragment")
	case u.Scheme == "https":
		if u.Host == "" {
			return bad("has no host")
		}
	case u.Scheme == "http":
		if !loopbackHost(u.Hostname()) {
			return bad("uses http on a host other than loopback; use https")
		}
	case slices.Contains([]string{"javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss"}, u.Scheme):
		return bad("uses a scheme that cannot receive an authorization answer")
	}
	return nil
}
