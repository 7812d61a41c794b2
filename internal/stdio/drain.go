package stdio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// drain sits between the stdio streams and mcp-go's stdio server so
// that shutdown is graceful. mcp-go cancels every request in flight as soon
// as its input ends; the drain holds the end of input back until every
// request read so far has been answered, or the bound has passed.
//
// Input ends when stdin closes or when stop is closed (a signal): from then
// on no new message is passed on.
type drain struct {
	stop   <-chan struct{}
	bound  time.Duration
	logger *slog.Logger
	out    io.Writer

	lines    chan inputLine
	quit     chan struct{} // ends the goroutine reading stdin
	quitOnce sync.Once
	leftover []byte // of a line longer than the caller's buffer
	ended    bool
	timedOut bool

	mu        sync.Mutex
	pending   map[string]bool // ids of requests not yet answered
	cancelled map[string]bool // ids of requests cancelled before their answer
	outBuf    []byte          // output not yet ending in a newline
	changed   chan struct{}   // signalled when pending shrinks
}

type inputLine struct {
	data []byte
	err  error
}

// newDrain wraps in and out. Closing stop ends input as stdin closing does.
func newDrain(in io.Reader, out io.Writer, stop <-chan struct{}, bound time.Duration, logger *slog.Logger) *drain {
	d := &drain{
		stop:      stop,
		bound:     bound,
		logger:    logger,
		out:       out,
		lines:     make(chan inputLine),
		quit:      make(chan struct{}),
		pending:   map[string]bool{},
		cancelled: map[string]bool{},
		changed:   make(chan struct{}, 1),
	}
	go d.pump(in)
	return d
}

// pump reads stdin a line at a time.
func (d *drain) pump(in io.Reader) {
	br := bufio.NewReader(in)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			select {
			case d.lines <- inputLine{data: line}:
			case <-d.quit:
				return
			}
		}
		if err != nil {
			select {
			case d.lines <- inputLine{err: err}:
			case <-d.quit:
			}
			return
		}
	}
}

// Read passes input on a line at a time, noting each request; once input
// has ended it returns io.EOF only when every noted request is answered or
// the bound has passed.
func (d *drain) Read(p []byte) (int, error) {
	if len(d.leftover) > 0 {
		n := copy(p, d.leftover)
		d.leftover = d.leftover[n:]
		return n, nil
	}
	if d.ended {
		return 0, io.EOF
	}
	select {
	case <-d.stop: // a signal wins over input already waiting
		d.waitForAnswers("signal received")
		return 0, io.EOF
	default:
	}
	select {
	case in := <-d.lines:
		if in.err != nil {
			d.waitForAnswers("stdin closed")
			if in.err == io.EOF {
				return 0, io.EOF
			}
			return 0, in.err
		}
		d.noteInput(in.data)
		n := copy(p, in.data)
		d.leftover = in.data[n:]
		return n, nil
	case <-d.stop:
		d.waitForAnswers("signal received")
		return 0, io.EOF
	}
}

// Write passes output on a whole message at a time and notes the responses
// in it. The answer to a request the client cancelled is dropped: the
// client has stopped waiting, and the MCP specification says a cancelled
// request gets no response (mcp-go writes one all the same).
func (d *drain) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := p
	// mcp-go writes one whole message a call, so output is copied only
	// when a message arrives in pieces.
	if len(d.outBuf) > 0 {
		d.outBuf = append(d.outBuf, p...)
		in = d.outBuf
	}
	for {
		i := bytes.IndexByte(in, '\n')
		if i < 0 {
			break
		}
		msg := in[:i+1]
		in = in[i+1:]
		if id, ok := responseID(msg[:i]); ok {
			if key, _ := idKey(id); d.cancelled[key] {
				delete(d.cancelled, key)
				continue
			}
			d.answered(id)
		}
		if _, err := d.out.Write(msg); err != nil {
			return 0, err
		}
	}
	if len(in) == 0 {
		d.outBuf = nil
	} else {
		d.outBuf = append(d.outBuf[:0], in...)
	}
	return len(p), nil
}

// responseID returns the id of a JSON-RPC response, reading no further into
// the message than it must: a response's result (a whole list of
// connections, say) follows its id, and is not read at all.
func responseID(msg []byte) (json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(msg))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var id json.RawMessage
	response := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		switch t {
		case "method": // a request or a notification
			return nil, false
		case "id":
			if err := dec.Decode(&id); err != nil {
				return nil, false
			}
			if response {
				return id, true
			}
			continue
		case "result", "error":
			if id != nil {
				return id, true
			}
			response = true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
	}
	return nil, false
}

// noteInput records a request awaiting its response, and forgets one the
// client cancelled, which gets none.
func (d *drain) noteInput(line []byte) {
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			RequestID json.RawMessage `json:"requestId"`
		} `json:"params"`
	}
	if json.Unmarshal(line, &msg) != nil {
		return
	}
	switch {
	case msg.Method == "notifications/cancelled":
		d.mu.Lock()
		if key, ok := idKey(msg.Params.RequestID); ok && d.pending[key] {
			d.cancelled[key] = true
		}
		d.answered(msg.Params.RequestID)
		d.mu.Unlock()
	case msg.Method != "" && !strings.HasPrefix(msg.Method, "notifications/"):
		if key, ok := idKey(msg.ID); ok {
			d.mu.Lock()
			d.pending[key] = true
			d.mu.Unlock()
		}
	}
}

// answered forgets a request; the caller holds d.mu.
func (d *drain) answered(id json.RawMessage) {
	key, ok := idKey(id)
	if !ok || !d.pending[key] {
		return
	}
	delete(d.pending, key)
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func idKey(id json.RawMessage) (string, bool) {
	id = bytes.TrimSpace(id)
	if len(id) == 0 || string(id) == "null" {
		return "", false
	}
	return string(id), true
}

func (d *drain) inFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pending)
}

// waitForAnswers waits, within the bound, until every request has been answered.
func (d *drain) waitForAnswers(why string) {
	d.ended = true
	d.quitOnce.Do(func() { close(d.quit) })
	n := d.inFlight()
	if n == 0 {
		return
	}
	d.logger.Info(why+"; waiting for requests in flight", "requests", n, "timeout", d.bound)
	deadline := time.NewTimer(d.bound)
	defer deadline.Stop()
	for d.inFlight() > 0 {
		select {
		case <-d.changed:
		case <-deadline.C:
			d.timedOut = true
			d.logger.Warn("requests still running after the shutdown timeout are cut off", "requests", d.inFlight(), "timeout", d.bound)
			return
		}
	}
}

// cutOff reports whether requests were still running when the bound passed.
// Call it after the stdio server has returned.
func (d *drain) cutOff() bool { return d.timedOut }
