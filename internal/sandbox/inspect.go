package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// InspectPrefix is where the inspection endpoints live: a log of the API
// requests received, fault injection and a reset. Only a sandbox started
// with Config.Inspect serves them, never the one an MCP server talks to.
const InspectPrefix = "/_sandbox/"

// inspected is the fake Plannr plus the inspection endpoints tests use: a
// log of every API request with how it ended, fault injection and a reset.
type inspected struct {
	newFake func() *Server

	mu   sync.Mutex
	fake *Server
	log  []*LoggedRequest
}

// LoggedRequest is one API request as GET /_sandbox/requests reports it.
type LoggedRequest struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status is the status answered, 0 while in flight or when aborted.
	Status int `json:"status"`
	// State is "in-flight", "completed", "aborted" when the caller went
	// away before an answer was written, or "dropped" when a fault cut the
	// connection.
	State string `json:"state"`
}

// faultJSON is the JSON form of a Fault.
type faultJSON struct {
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
func (f faultJSON) fault() (Fault, error) {
	if f.Status == 0 && f.DelayMS <= 0 && !f.Reset && !f.Hang && !f.Truncate && f.Size <= 0 && !f.DropAnswer {
		return Fault{}, errors.New("a fault needs at least one of status, delay_ms, reset, hang, truncate, size or drop_answer")
	}
	if f.DelayMS < 0 || f.Times < 0 || f.Size < 0 {
		return Fault{}, errors.New("delay_ms, times and size must not be negative")
	}
	var header http.Header
	if len(f.Headers) > 0 {
		header = http.Header{}
		for k, v := range f.Headers {
			header.Set(k, v)
		}
	}
	return Fault{
		Method: f.Method, Path: f.Path, Status: f.Status, Body: f.Body,
		ContentType: f.ContentType, Header: header,
		Delay: time.Duration(f.DelayMS) * time.Millisecond, Times: f.Times,
		Reset: f.Reset, Hang: f.Hang, Truncate: f.Truncate, Size: f.Size, DropAnswer: f.DropAnswer,
	}, nil
}

// newInspected serves fakes made by newFake, a new one at every reset.
func newInspected(newFake func() *Server) *inspected {
	return &inspected{newFake: newFake, fake: newFake()}
}

// ServeHTTP answers the inspection endpoints itself and passes every other
// request to the fake, logging it.
func (s *inspected) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, InspectPrefix) {
		s.serveControl(w, r)
		return
	}
	entry := &LoggedRequest{Method: r.Method, Path: r.URL.Path, State: "in-flight"}
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

func (s *inspected) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case InspectPrefix + "requests":
		if r.Method != http.MethodGet {
			inspectError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		s.mu.Lock()
		requests := make([]LoggedRequest, len(s.log))
		for i, e := range s.log {
			requests[i] = *e
		}
		s.mu.Unlock()
		writeInspectJSON(w, http.StatusOK, map[string]any{"requests": requests})
	case InspectPrefix + "faults":
		if r.Method != http.MethodPost {
			inspectError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		var in faultJSON
		if err := dec.Decode(&in); err != nil {
			inspectError(w, http.StatusBadRequest, "a fault is a JSON object with the fields of plannr-mcp sandbox-api --help: "+err.Error())
			return
		}
		f, err := in.fault()
		if err != nil {
			inspectError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.mu.Lock()
		fake := s.fake
		s.mu.Unlock()
		fake.Inject(f)
		w.WriteHeader(http.StatusNoContent)
	case InspectPrefix + "reset":
		if r.Method != http.MethodPost {
			inspectError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		fake := s.newFake()
		s.mu.Lock()
		s.fake, s.log = fake, nil
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		inspectError(w, http.StatusNotFound, "unknown inspection endpoint; see plannr-mcp sandbox-api --help")
	}
}

func inspectError(w http.ResponseWriter, status int, msg string) {
	writeInspectJSON(w, status, map[string]string{"message": msg})
}

func writeInspectJSON(w http.ResponseWriter, status int, v any) {
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
