package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// errBlockedAddress reports a metadata URL whose host resolves to an
// address the server does not fetch from.
var errBlockedAddress = errors.New("the address is loopback, private, link-local or otherwise not public")

// newMetadataClient returns the client that fetches Client ID Metadata
// Documents: no proxy, no redirects, a time limit, and (unless insecure)
// a dialer that refuses every address that is not public, checked on the
// address actually dialled, so that DNS cannot rebind past it.
func newMetadataClient(insecure bool, secrets *untrusted.Secrets) *http.Client {
	dialer := &net.Dialer{Timeout: metadataTimeout}
	if !insecure {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !publicAddr(ap.Addr()) {
				return errBlockedAddress
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: metadataTimeout,
		Transport: &untrusted.Transport{Secrets: secrets, Base: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    metadataTimeout,
			ResponseHeaderTimeout:  metadataTimeout,
			MaxResponseHeaderBytes: 16 << 10,
			DisableKeepAlives:      true,
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// cgnat is the shared address space of RFC 6598, not public either.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports an address on the public internet.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!cgnat.Contains(a) && !(a.Is4() && a.As4()[0] == 0)
}

// checkMetadataURL checks the form of a client_id that is a metadata
// document URL: https, a host, a path, no fragment, user or dot segments.
func (s *Server) checkMetadataURL(id string) (*url.URL, error) {
	u, err := url.Parse(id)
	bad := func(why string) error {
		return clientErr("client_id %s is not a client ID metadata document URL: it %s", untrusted.Quote(untrusted.Truncate(id, 100)), why)
	}
	switch {
	case err != nil:
		return nil, bad("does not parse")
	case u.Scheme != "https" && !(s.cfg.InsecureMetadataURLs && u.Scheme == "http"):
		return nil, bad("must use https")
	case u.Host == "" || u.User != nil:
		return nil, bad("must have a host and no user information")
	case u.Path == "" || u.Path == "/":
		return nil, bad("must have a path")
	case u.Fragment != "" || strings.Contains(id, "#"):
		return nil, bad("must not have a fragment")
	case strings.Contains("/"+u.Path+"/", "/./") || strings.Contains("/"+u.Path+"/", "/../"):
		return nil, bad("must not have dot segments")
	}
	if !s.cfg.InsecureMetadataURLs {
		if addr, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !publicAddr(addr) {
			return nil, bad("names an address that is not public")
		}
		if strings.EqualFold(u.Hostname(), "localhost") || strings.HasSuffix(strings.ToLower(u.Hostname()), ".localhost") {
			return nil, bad("names this machine")
		}
	}
	return u, nil
}

// fetchMetadataDocument fetches, checks and caches a client's metadata
// document. The document must name itself as client_id, list its
// redirect URIs and be a public client (no secret).
func (s *Server) fetchMetadataDocument(ctx context.Context, id string) (*client, error) {
	u, err := s.checkMetadataURL(id)
	if err != nil {
		return nil, err
	}
	fctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, clientErr("client_id %s: %v", untrusted.Quote(id), err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "plannr-mcp")
	resp, err := s.fetch.Do(req)
	if err != nil {
		if errors.Is(err, errBlockedAddress) {
			return nil, clientErr("the client's metadata document %s is on an address this server does not fetch from (%v)", untrusted.Quote(id), errBlockedAddress)
		}
		return nil, clientErr("the client's metadata document %s could not be fetched: %s", untrusted.Quote(id), untrusted.Excerpt(err.Error(), 160))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, clientErr("the client's metadata document %s answered %d, not 200", untrusted.Quote(id), resp.StatusCode)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return nil, clientErr("the client's metadata document %s is not JSON (Content-Type %s)", untrusted.Quote(id), untrusted.Quote(untrusted.Truncate(ct, 60)))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return nil, clientErr("the client's metadata document %s could not be read", untrusted.Quote(id))
	}
	if len(body) > maxMetadataBytes {
		return nil, clientErr("the client's metadata document %s is larger than %d bytes", untrusted.Quote(id), maxMetadataBytes)
	}
	var m metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, clientErr("the client's metadata document %s is not a JSON object of client metadata", untrusted.Quote(id))
	}
	switch {
	case m.ClientID != id:
		return nil, clientErr("the client's metadata document %s names another client_id", untrusted.Quote(id))
	case m.ClientSecret != "":
		return nil, clientErr("the client's metadata document %s carries a client_secret, which a public document must not", untrusted.Quote(id))
	case m.TokenEndpointAuthMethod != "" && m.TokenEndpointAuthMethod != "none":
		return nil, clientErr("the client's metadata document %s asks for token_endpoint_auth_method %s; this server supports none for metadata documents", untrusted.Quote(id), untrusted.Quote(untrusted.Truncate(m.TokenEndpointAuthMethod, 40)))
	}
	m.TokenEndpointAuthMethod = "none"
	if err := checkMetadata(&m); err != nil {
		return nil, clientErr("the client's metadata document %s: %v", untrusted.Quote(id), err)
	}
	now := s.cfg.Now()
	stored, _ := json.Marshal(m)
	row := store.Client{ID: id, Kind: store.ClientMetadataDocument, Metadata: stored, CreatedAt: now, ExpiresAt: now.Add(cacheLifetime(resp.Header.Get("Cache-Control")))}
	if err := s.store.PutClient(ctx, row); err != nil {
		return nil, err
	}
	s.log.Info("fetched a client's metadata document", "client", id, "name", m.ClientName)
	return clientFromRow(row)
}

// cacheLifetime reads max-age from Cache-Control, within bounds: a
// document is fetched again at most every few minutes and at least daily.
func cacheLifetime(cc string) time.Duration {
	for _, part := range strings.Split(cc, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(strings.ToLower(part)), "=")
		switch k {
		case "no-store", "no-cache":
			return minMetadataCache
		case "max-age":
			if n, err := strconv.Atoi(v); err == nil {
				return min(max(time.Duration(n)*time.Second, minMetadataCache), maxMetadataCache)
			}
		}
	}
	return defaultMetadataCache
}
