package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// envSandboxToken sets the bearer token the sandbox API accepts.
const envSandboxToken = "PLANNR_SANDBOX_TOKEN"

// sandboxControlPrefix is where the sandbox API's inspection endpoints live.
// They exist only in the sandbox-api process, never in the MCP server.
const sandboxControlPrefix = "/_sandbox/"

// cmdSandboxAPI serves the fake Plannr API as a process of its own, so that
// tests written in any language can point plannr-mcp at it. It prints its
// base URL as the first line on stdout and serves until ctx ends.
func cmdSandboxAPI(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("plannr-mcp sandbox-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on; port 0 picks a free port")
	token := fs.String("token", envOr(getenv, envSandboxToken, plannrtest.SandboxToken), "bearer token the fake accepts (env "+envSandboxToken+")")
	logLevel := fs.String("log-level", envOr(getenv, envLogLevel, "info"), "debug, info, warn or error; logs go to stderr (env "+envLogLevel+")")
	redirects := fs.String("redirect-urls", "", "comma-separated redirect URLs the demo OAuth2 client accepts besides "+strings.Join(plannrtest.DemoRedirectURIs(), " and "))
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: plannr-mcp sandbox-api [flags]

Serves the fake Plannr API with sample data on its own, for tests and for
trying plannr-mcp. Prints the base URL (for PLANNR_BASE_URL) on stdout, then
serves until interrupted.

It accepts the bearer token below, and it has Plannr's OAuth2 endpoints with
a demo client (PLANNR_CLIENT_ID=`+plannrtest.DemoClientID+`,
PLANNR_CLIENT_SECRET=`+plannrtest.DemoClientSecret+`) and a sign-in page for two
demo users, `+plannrtest.OwnerEmail+` and `+plannrtest.SecondUserEmail+`
(password `+plannrtest.DemoPassword+`), so that plannr-mcp login works against it.

Besides the Plannr endpoints it answers, for tests only:
  GET  /_sandbox/requests   every API request received since the last reset:
                            method, path, status and state (in-flight, completed,
                            aborted by the caller, or dropped by a fault)
  POST /_sandbox/faults     queue a fault for matching requests, a JSON object:
                            method, path (empty matches any), status, body,
                            content_type, headers {name: value}, delay_ms,
                            times (default 1), reset, hang, truncate, size,
                            drop_answer (carry the request out, then cut the
                            connection instead of answering)
  POST /_sandbox/reset      restore the sample data and clear faults and the log

Flags:
`)
		fs.PrintDefaults()
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return unexpectedArgs(rest)
	}
	if *token == "" {
		return badUsage(errors.New("--token must not be empty"))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return badUsage(fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel))
	}
	logger := newLogger(stderr, level)

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		return fmt.Errorf("sandbox API: %w", err)
	}
	url := "http://" + ln.Addr().String()
	srv := &http.Server{
		Handler:           newSandboxAPI(*token, splitList(*redirects)...),
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("sandbox API listening: a fake Plannr with sample data, for tests", "url", url)
	if _, err := fmt.Fprintln(stdout, url); err != nil {
		_ = srv.Close()
		return fmt.Errorf("printing the URL: %w", err)
	}

	select {
	case err := <-served:
		return fmt.Errorf("sandbox API: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	return nil
}

// sandboxAPI is the fake Plannr plus the inspection endpoints tests use: a
// log of every API request with how it ended, fault injection and a reset.
type sandboxAPI struct {
	token     string
	redirects []string // extra redirect URLs of the demo client

	mu   sync.Mutex
	fake *plannrtest.Server
	log  []*sandboxRequest
}

// sandboxRequest is one API request as GET /_sandbox/requests reports it.
type sandboxRequest struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status is the status answered, 0 while in flight or when aborted.
	Status int `json:"status"`
	// State is "in-flight", "completed", "aborted" when the caller went
	// away before an answer was written, or "dropped" when a fault cut the
	// connection.
	State string `json:"state"`
}

// sandboxFault is the JSON form of a plannrtest.Fault.
type sandboxFault struct {
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Status      int               `json:"status"`
	Body        string            `json:"body"`
	ContentType string            `json:"content_type"`
	Headers     map[string]string `json:"headers"`
	DelayMS     int               `json:"delay_ms"`
	Times       int               `json:"times"`
	Reset       bool              `json:"reset"`
	Hang        bool              `json:"hang"`
	Truncate    bool              `json:"truncate"`
	Size        int               `json:"size"`
	DropAnswer  bool              `json:"drop_answer"`
}

// fault converts f, or says what is wrong with it.
func (f sandboxFault) fault() (plannrtest.Fault, error) {
	if f.Status == 0 && f.DelayMS <= 0 && !f.Reset && !f.Hang && !f.Truncate && f.Size <= 0 && !f.DropAnswer {
		return plannrtest.Fault{}, errors.New("a fault needs at least one of status, delay_ms, reset, hang, truncate, size or drop_answer")
	}
	if f.DelayMS < 0 || f.Times < 0 || f.Size < 0 {
		return plannrtest.Fault{}, errors.New("delay_ms, times and size must not be negative")
	}
	var header http.Header
	if len(f.Headers) > 0 {
		header = http.Header{}
		for k, v := range f.Headers {
			header.Set(k, v)
		}
	}
	return plannrtest.Fault{
		Method: f.Method, Path: f.Path, Status: f.Status, Body: f.Body,
		ContentType: f.ContentType, Header: header,
		Delay: time.Duration(f.DelayMS) * time.Millisecond, Times: f.Times,
		Reset: f.Reset, Hang: f.Hang, Truncate: f.Truncate, Size: f.Size, DropAnswer: f.DropAnswer,
	}, nil
}

func newSandboxAPI(token string, redirects ...string) *sandboxAPI {
	s := &sandboxAPI{token: token, redirects: redirects}
	s.fake = s.newFake()
	return s
}

func (s *sandboxAPI) newFake() *plannrtest.Server {
	return plannrtest.New(append(sandboxOptions(s.redirects...), plannrtest.WithTokens(s.token))...)
}

// ServeHTTP answers the inspection endpoints itself and passes every other
// request to the fake, logging it.
func (s *sandboxAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, sandboxControlPrefix) {
		s.serveControl(w, r)
		return
	}
	entry := &sandboxRequest{Method: r.Method, Path: r.URL.Path, State: "in-flight"}
	s.mu.Lock()
	fake := s.fake
	s.log = append(s.log, entry)
	s.mu.Unlock()

	rec := &statusRecorder{ResponseWriter: w}
	fake.ServeHTTP(rec, r)

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case rec.hijacked:
		entry.State = "dropped"
	case rec.status != 0:
		entry.Status, entry.State = rec.status, "completed"
	case r.Context().Err() != nil:
		entry.State = "aborted"
	default:
		entry.Status, entry.State = http.StatusOK, "completed"
	}
}

func (s *sandboxAPI) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case sandboxControlPrefix + "requests":
		if r.Method != http.MethodGet {
			sandboxError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		s.mu.Lock()
		requests := make([]sandboxRequest, len(s.log))
		for i, e := range s.log {
			requests[i] = *e
		}
		s.mu.Unlock()
		writeSandboxJSON(w, http.StatusOK, map[string]any{"requests": requests})
	case sandboxControlPrefix + "faults":
		if r.Method != http.MethodPost {
			sandboxError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		var in sandboxFault
		if err := dec.Decode(&in); err != nil {
			sandboxError(w, http.StatusBadRequest, "a fault is a JSON object with the fields of plannr-mcp sandbox-api --help: "+err.Error())
			return
		}
		f, err := in.fault()
		if err != nil {
			sandboxError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.mu.Lock()
		fake := s.fake
		s.mu.Unlock()
		fake.Inject(f)
		w.WriteHeader(http.StatusNoContent)
	case sandboxControlPrefix + "reset":
		if r.Method != http.MethodPost {
			sandboxError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		fake := s.newFake()
		s.mu.Lock()
		s.fake, s.log = fake, nil
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		sandboxError(w, http.StatusNotFound, "unknown sandbox endpoint; see plannr-mcp sandbox-api --help")
	}
}

func sandboxError(w http.ResponseWriter, status int, msg string) {
	writeSandboxJSON(w, status, map[string]string{"message": msg})
}

func writeSandboxJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// statusRecorder remembers the status a handler answered with, and whether
// it took the connection over to cut it.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection to a fault that cuts it.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, buf, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijacking the connection: %w", err)
	}
	r.hijacked = true
	return conn, buf, nil
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}
