package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// person is someone the fake knows: a static token's owner, or a user who
// signs in. The fields are guarded by Server.mu.
type person struct {
	email       string
	password    string
	accounts    []Account
	connections []Record
}

type handler func(w http.ResponseWriter, r *http.Request, body []byte, who *person)

// route finds the handler for a request; with none, allowed lists the
// methods the path supports ("" for an unknown path).
func (s *Server) route(method, path string) (h handler, allowed string) {
	if path == "/api/v1/oauth/connections" {
		if method == http.MethodGet || method == http.MethodHead {
			return s.list, ""
		}
		return nil, "GET, HEAD"
	}
	if path == "/api/v1/logins" {
		if method == http.MethodGet || method == http.MethodHead {
			return s.logins, ""
		}
		return nil, "GET, HEAD"
	}
	if m := connectionPath.FindStringSubmatch(path); m != nil {
		uuid := m[1]
		switch method {
		case http.MethodPut, http.MethodPatch:
			return func(w http.ResponseWriter, r *http.Request, body []byte, who *person) {
				s.update(w, r, who, uuid, body)
			}, ""
		case http.MethodDelete:
			return func(w http.ResponseWriter, _ *http.Request, _ []byte, who *person) { s.delete(w, who, uuid) }, ""
		}
		return nil, "PUT, PATCH, DELETE"
	}
	return nil, ""
}

func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && (f.Path == "" || f.Path == r.URL.Path) {
			s.faults[i].Times--
			if s.faults[i].Times == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			return f, true
		}
	}
	return Fault{}, false
}

// allowRequest applies Plannr's per-user limit in fixed one-minute windows
// and sets the rate-limit headers every answer carries.
func (s *Server) allowRequest(w http.ResponseWriter, user string) bool {
	limit := s.rateLimit
	enforce := limit > 0
	if !enforce {
		limit = DefaultRateLimit
	}
	s.mu.Lock()
	now := s.now()
	window := now.Truncate(time.Minute)
	if !window.Equal(s.window) {
		s.window = window
		clear(s.windowCount)
	}
	used := s.windowCount[user]
	if enforce && used >= limit {
		s.mu.Unlock()
		reset := window.Add(time.Minute)
		retry := max(1, int(reset.Sub(now).Seconds()+0.999))
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		writeJSON(w, http.StatusTooManyRequests, message("Too Many Attempts."))
		return false
	}
	if enforce {
		used++
		s.windowCount[user] = used
	}
	s.mu.Unlock()
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(limit-used))
	return true
}

func (s *Server) knownAccount(who *person, uuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range who.accounts {
		if a.UUID == uuid {
			return true
		}
	}
	return false
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, _ []byte, who *person) {
	s.mu.Lock()
	data := make([]map[string]any, len(who.connections))
	for i, c := range who.connections {
		data[i] = c.wire(s.reauthorizeBase(r))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) logins(w http.ResponseWriter, _ *http.Request, _ []byte, who *person) {
	s.mu.Lock()
	data := make([]map[string]any, len(who.accounts))
	for i, a := range who.accounts {
		data[i] = map[string]any{
			"uuid":  fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1),
			"email": who.email,
			"account": map[string]any{
				"uuid": a.UUID, "name": a.Name, "type": a.Type,
			},
			"firm":                   map[string]any{"uuid": "2e4f6a8c-0b1d-4e3f-a5b7-c9d1e3f5a7b9", "name": "Harbour Wealth Ltd"},
			"preferred_account_uuid": who.accounts[0].UUID,
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, who *person, uuid string, body []byte) {
	var in map[string]any
	if len(body) > 0 && json.Unmarshal(body, &in) != nil {
		writeJSON(w, http.StatusBadRequest, message("Malformed JSON body."))
		return
	}
	label := in["label"]
	var problem string
	switch v := label.(type) {
	case nil:
		problem = "The label field is required."
	case string:
		switch {
		case strings.TrimSpace(v) == "":
			problem = "The label field is required."
		case utf8.RuneCountInString(v) > 255:
			problem = "The label field must not be greater than 255 characters."
		}
	default:
		problem = "The label field must be a string."
	}

	s.mu.Lock()
	i := who.index(uuid)
	if i < 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, message(notFound(uuid)))
		return
	}
	if problem != "" {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message": problem,
			"errors":  map[string][]string{"label": {problem}},
		})
		return
	}
	who.connections[i].Label = strings.TrimSpace(label.(string))
	who.connections[i].UpdatedAt = withOffset(s.now())
	s.changes[uuid]++
	wire := who.connections[i].wire(s.reauthorizeBase(r))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, wire)
}

func (s *Server) delete(w http.ResponseWriter, who *person, uuid string) {
	s.mu.Lock()
	i := who.index(uuid)
	if i < 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, message(notFound(uuid)))
		return
	}
	who.connections = slices.Delete(who.connections, i, i+1)
	s.changes[uuid]++
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// index finds one of the person's connections; the caller holds Server.mu.
func (p *person) index(uuid string) int {
	return slices.IndexFunc(p.connections, func(c Record) bool { return c.UUID == uuid })
}

func notFound(uuid string) string {
	return fmt.Sprintf("No query results for model [App\\Models\\OAuthConnection] %s", uuid)
}

// wire renders a record with Plannr's field names; field order is left to
// the encoder, as Plannr's own order varies. With a reauthorizeBase, its
// re-authorization URL is the fake's own page (see WithReauthorizePage).
func (c Record) wire(reauthorizeBase string) map[string]any {
	expiry := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	return map[string]any{
		"uuid":       c.UUID,
		"label":      c.Label,
		"created_at": c.CreatedAt,
		"updated_at": c.UpdatedAt,
		"provider": map[string]any{
			"name":              c.ProviderName,
			"label":             c.ProviderLabel,
			"logo_url":          fmt.Sprintf("https://api.plannrcrm.com/imgs/%s-banner.png", c.ProviderName),
			"authorization_url": fmt.Sprintf("https://api.plannrcrm.com/oauth/%s/authorize", c.ProviderName),
		},
		"access_token_expires_at":   expiry(c.AccessTokenExpiresAt),
		"refresh_token_expires_at":  expiry(c.RefreshTokenExpiresAt),
		"refresh_authorization_url": c.reauthorizeURL(reauthorizeBase),
	}
}

func (c Record) reauthorizeURL(base string) string {
	if base == "" {
		return c.RefreshAuthorizationURL
	}
	return base + reauthorizePrefix + c.UUID
}

func message(m string) map[string]any { return map[string]any{"message": m} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
