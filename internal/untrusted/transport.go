package untrusted

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxTransportBody bounds the answers Transport reads: token endpoints and
// the like answer with a few hundred bytes.
const maxTransportBody = 1 << 20

// Transport scrubs the answers it carries, for HTTP clients whose answers
// another library reads, such as golang.org/x/oauth2's token requests. Each
// answer is read in full (up to 1 MiB) and scrubbed of the secrets its
// request carried and of Secrets, except an answer that hands out a token:
// it is read by the OAuth2 library alone, never quoted, and may
// legitimately repeat the refresh token it was sent.
type Transport struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Secrets are the secrets the process holds; nil holds none.
	Secrets *Secrets
}

// RoundTrip sends req and returns its answer scrubbed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, t.Secrets.RedactError(req, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTransportBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, t.Secrets.RedactError(req, fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err))
	}
	if len(body) > maxTransportBody {
		return nil, fmt.Errorf("the %d answer is longer than %d bytes", resp.StatusCode, maxTransportBody)
	}
	if !grantsToken(resp.StatusCode, body) {
		body = t.Secrets.RedactAnswer(req, body)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// grantsToken reports a successful answer that carries an access token.
func grantsToken(status int, body []byte) bool {
	if status < 200 || status > 299 {
		return false
	}
	var grant struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	return json.Unmarshal(body, &grant) == nil && grant.AccessToken != "" && grant.Error == ""
}
