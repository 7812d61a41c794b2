// Package sandbox is plannr-mcp's built-in fake Plannr, which --sandbox
// and the sandbox-api command serve, and which the tests talk to. It speaks
// the real wire format over real HTTP: the OAuth2 connection endpoints and
// /api/v1/logins, bearer-token checks, Laravel-style error bodies and
// rate-limit headers, and Passport's OAuth2 endpoints with a sign-in page.
// Faults can be injected and every request read back.
package sandbox

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// SandboxToken is the bearer token the fake accepts unless told otherwise.
const SandboxToken = "sandbox-token"

// DefaultRateLimit is Plannr's limit: requests per minute per user.
const DefaultRateLimit = 500

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Fault is an answer the fake gives instead of its normal one, to requests
// that match Method and Path (empty matches any).
type Fault struct {
	// Method and Path select the requests to fault; empty matches every one.
	Method string
	// Path is matched exactly against the request's URL path.
	Path string
	// Status is the status to answer with; zero keeps the normal answer
	// (useful with Delay alone).
	Status int
	// Body is sent as is. ContentType defaults to application/json.
	Body string
	// ContentType is the answer's Content-Type.
	ContentType string
	// Header is added to the answer.
	Header http.Header
	// Delay is waited before answering; the wait ends early if the client goes away.
	Delay time.Duration
	// Times is how many matching requests get this fault; zero means once.
	Times int

	// Reset drops the connection without answering, so that the client
	// sees a connection reset.
	Reset bool
	// Hang never answers: the fake holds the request until the client goes
	// away, and records it as abandoned.
	Hang bool
	// Truncate declares a Content-Length longer than Body, sends Body and
	// closes the connection, so the answer arrives cut off. Status zero
	// means 200.
	Truncate bool
	// Size pads Body with spaces to this many bytes, for oversized
	// answers. Status zero means 200.
	Size int
	// DropAnswer carries the request out as usual (a rename renames, a
	// delete deletes), then resets the connection instead of answering: the
	// change was made, but the client never learns it.
	DropAnswer bool
}

// Server is the fake Plannr API. Its zero value is not usable: call New.
type Server struct {
	now       func() time.Time
	tokens    map[string]bool
	rateLimit int

	mu sync.Mutex
	// owner is the person static tokens act as; people are everyone who
	// can sign in, keyed by e-mail address, owner included.
	owner       *person
	people      map[string]*person
	requests    []Request
	abandoned   []Request
	changes     map[string]int
	changed     chan struct{}
	faults      []Fault
	window      time.Time
	windowCount map[string]int

	oauth oauthServer
	// reauthorizePage serves each connection's re-authorization page.
	reauthorizePage bool
}

// Option configures a Server.
type Option func(*Server)

// WithTokens sets the bearer tokens the fake accepts.
func WithTokens(tokens ...string) Option {
	return func(s *Server) {
		s.tokens = map[string]bool{}
		for _, t := range tokens {
			s.tokens[t] = true
		}
	}
}

// WithClock sets the fake's notion of now.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithConnections replaces the sample connections of the fake's owner,
// the person its static tokens act as.
func WithConnections(records []Record) Option {
	return func(s *Server) { s.owner.connections = slices.Clone(records) }
}

// WithUsers adds people who can sign in through the login page (see
// WithLoginPage), each seeing their own accounts and connections.
func WithUsers(users ...User) Option {
	return func(s *Server) {
		for _, u := range users {
			s.people[u.Email] = &person{
				email:       u.Email,
				password:    u.Password,
				accounts:    slices.Clone(u.Accounts),
				connections: slices.Clone(u.Connections),
			}
		}
	}
}

// WithRateLimit sets requests allowed per minute per token; zero or less
// stops enforcing (the headers are still sent).
func WithRateLimit(perMinute int) Option { return func(s *Server) { s.rateLimit = perMinute } }

// New returns a fake seeded with SampleConnections and SampleAccounts that
// accepts SandboxToken.
func New(opts ...Option) *Server {
	owner := &person{email: OwnerEmail, password: DemoPassword, accounts: SampleAccounts()}
	s := &Server{
		now:         time.Now,
		tokens:      map[string]bool{SandboxToken: true},
		rateLimit:   DefaultRateLimit,
		owner:       owner,
		people:      map[string]*person{owner.email: owner},
		windowCount: map[string]int{},
		changes:     map[string]int{},
		changed:     make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if s.owner.connections == nil {
		s.owner.connections = SampleConnections(s.now())
	}
	return s
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count returns how many requests with this method and path were received.
func (s *Server) Count(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// Connections returns a copy of the owner's connections.
func (s *Server) Connections() []Record { return s.ConnectionsOf(OwnerEmail) }

// ConnectionsOf returns a copy of the connections of the person with this
// e-mail address.
func (s *Server) ConnectionsOf(email string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.people[email]; ok {
		return slices.Clone(p.connections)
	}
	return nil
}

// Connection returns the owner's connection with this uuid.
func (s *Server) Connection(uuid string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.owner.connections {
		if c.UUID == uuid {
			return c, true
		}
	}
	return Record{}, false
}

var connectionPath = regexp.MustCompile(`^/api/v1/oauth/connections/([^/]+)$`)

// ServeHTTP answers as Plannr would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	received := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	s.requests = append(s.requests, received)
	s.notifyLocked()
	fault, faulted := s.takeFault(r)
	s.mu.Unlock()

	if faulted && s.serveFault(w, r, received, fault) {
		return
	}
	s.serve(w, r, body)
}

// serve gives a request its normal answer.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if strings.HasPrefix(r.URL.Path, "/oauth/") {
		s.serveOAuth(w, r, body)
		return
	}
	if uuid, ok := strings.CutPrefix(r.URL.Path, reauthorizePrefix); ok && s.reauthorizePage {
		s.reauthorize(w, r, uuid)
		return
	}

	route, allowed := s.route(r.Method, r.URL.Path)
	if route == nil {
		if allowed == "" {
			writeJSON(w, http.StatusNotFound, message(fmt.Sprintf("The route %s could not be found.", strings.TrimPrefix(r.URL.Path, "/"))))
			return
		}
		writeJSON(w, http.StatusMethodNotAllowed, message(fmt.Sprintf(
			"The %s method is not supported for route %s. Supported methods: %s.", r.Method, strings.TrimPrefix(r.URL.Path, "/"), allowed)))
		return
	}

	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var who *person
	if ok {
		who = s.bearer(token)
	}
	if who == nil {
		writeJSON(w, http.StatusUnauthorized, message("Unauthenticated."))
		return
	}
	// Plannr's limit is per user: one person's tokens share a window.
	if !s.allowRequest(w, who.email) {
		return
	}
	if acct := r.Header.Get("X-PLANNR-ACCOUNT-UUID"); acct != "" && !s.knownAccount(who, acct) {
		writeJSON(w, http.StatusForbidden, message("This action is unauthorized."))
		return
	}
	route(w, r, body, who)
}
