package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// serveFault answers a request with fault f. It reports false when the
// request should still get its normal answer (a Delay-only fault).
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, received Request, f Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			s.abandon(received)
			return true
		}
	}
	switch {
	case f.DropAnswer:
		s.serve(discardWriter{header: http.Header{}}, r, received.Body)
		resetConnection(w)
	case f.Hang:
		<-r.Context().Done()
		s.abandon(received)
	case f.Reset:
		resetConnection(w)
	case f.Truncate:
		writeTruncated(w, f)
	case f.Status != 0 || f.Size > 0:
		for k, vs := range f.Header {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Type", contentType(f))
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, f.Body)
		if pad := f.Size - len(f.Body); pad > 0 {
			writeSpaces(w, pad)
		}
	default:
		return false
	}
	return true
}

func contentType(f Fault) string {
	if f.ContentType == "" {
		return "application/json"
	}
	return f.ContentType
}

// resetConnection closes the request's connection with SO_LINGER 0, so the
// client gets a TCP reset instead of an answer.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(fmt.Sprintf("plannrtest: cannot hijack the connection to reset it: %v", err))
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// writeTruncated sends a head promising more body than follows, then
// closes the connection.
func writeTruncated(w http.ResponseWriter, f Fault) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(fmt.Sprintf("plannrtest: cannot hijack the connection to truncate an answer: %v", err))
	}
	defer conn.Close()
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	bw := buf.Writer
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	h := f.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", contentType(f))
	h.Set("Content-Length", fmt.Sprint(2*len(f.Body)+64))
	_ = h.Write(bw)
	fmt.Fprint(bw, "\r\n", f.Body)
	_ = bw.Flush()
}

// discardWriter takes an answer that is never sent.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

func writeSpaces(w io.Writer, n int) {
	chunk := strings.Repeat(" ", 32<<10)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := io.WriteString(w, chunk[:k]); err != nil {
			return
		}
		n -= k
	}
}

// abandon records a request whose client went away before it was answered.
func (s *Server) abandon(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abandoned = append(s.abandoned, r)
	s.notifyLocked()
}

// notifyLocked wakes everyone in Wait; the caller holds s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Abandoned returns the requests whose client went away (closed the
// connection or cancelled the request) while a Hang or Delay fault held
// them, before the fake answered.
func (s *Server) Abandoned() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.abandoned)
}

// Changes returns how many times the store's connection with this uuid was
// changed: renamed or deleted.
func (s *Server) Changes(uuid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes[uuid]
}

// Wait blocks until cond returns true, checking it again whenever the fake
// receives a request or sees a client abandon one, or until ctx ends. cond
// may call the fake's other methods.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
