package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sync"
	"time"
)

// A lean MCP client for tests and benchmarks that drive the built binary
// over stdio with raw newline-delimited JSON-RPC: it sees exactly what the
// server writes, and adds next to nothing to what a benchmark times.

// rpcProc is a spawned plannr-mcp serving MCP over stdio, driven with raw
// newline-delimited JSON-RPC so that what is timed is the server, not a
// client library.
type rpcProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *tailBuffer
}

// startRPC spawns bin with env and args, its stdin and stdout on pipes.
func startRPC(bin string, env []string, args ...string) (*rpcProc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	return &rpcProc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10), stderr: stderr}, nil
}

// send writes one message; msg must end in a newline.
func (p *rpcProc) send(msg []byte) error {
	if _, err := p.in.Write(msg); err != nil {
		return fmt.Errorf("writing to the server: %w (stderr: %s)", err, p.stderr)
	}
	return nil
}

// receive reads lines until a response (a message with an id and no
// method) and returns it. The slice is valid until the next read.
func (p *rpcProc) receive() ([]byte, error) {
	for {
		line, err := p.out.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A response larger than the buffer: gather the rest.
			full := slices.Clone(line)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = p.out.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if err != nil {
			return nil, fmt.Errorf("reading from the server: %w (stderr: %s)", err, p.stderr)
		}
		// mcp-go writes "jsonrpc" then "id" first; notifications have no id.
		head := line[:min(len(line), 48)]
		if bytes.Contains(head, []byte(`"id":`)) && !bytes.Contains(head, []byte(`"method":`)) {
			return line, nil
		}
	}
}

// roundTrip sends a request and returns its response.
func (p *rpcProc) roundTrip(msg []byte) ([]byte, error) {
	if err := p.send(msg); err != nil {
		return nil, err
	}
	return p.receive()
}

// Messages of the MCP handshake, as a client sends them.
var (
	msgInitialize  = []byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}` + "\n")
	msgInitialized = []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")
	msgToolsList   = []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}` + "\n")
)

// startInitialized spawns bin as startRPC does and has its initialize
// request answered: the moment a client could first use the server. The
// process is killed if that fails.
func startInitialized(bin string, env []string, args ...string) (*rpcProc, error) {
	p, err := startRPC(bin, env, args...)
	if err != nil {
		return nil, err
	}
	if err := p.initialize(); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// initialize sends the initialize request and checks its answer.
func (p *rpcProc) initialize() error {
	resp, err := p.roundTrip(msgInitialize)
	if err != nil {
		return err
	}
	if !bytes.Contains(resp, []byte(`"serverInfo"`)) {
		return fmt.Errorf("initialize answered %s", resp)
	}
	return nil
}

// listTools completes the handshake after initialize and lists the tools,
// as every client does before its first call.
func (p *rpcProc) listTools() error {
	if err := p.send(msgInitialized); err != nil {
		return err
	}
	resp, err := p.roundTrip(msgToolsList)
	if err != nil {
		return err
	}
	if !bytes.Contains(resp, []byte(`"tools"`)) {
		return fmt.Errorf("tools/list answered %s", resp)
	}
	return nil
}

// handshake initializes the session and lists the tools.
func (p *rpcProc) handshake() error {
	if err := p.initialize(); err != nil {
		return err
	}
	return p.listTools()
}

// stop closes stdin, which ends the server, waits for it and returns the CPU
// time (user plus system) it used in its whole life.
func (p *rpcProc) stop() (time.Duration, error) {
	_ = p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return 0, fmt.Errorf("server exited with %w (stderr: %s)", err, p.stderr)
		}
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
		return 0, fmt.Errorf("server did not exit when stdin closed (stderr: %s)", p.stderr)
	}
	ps := p.cmd.ProcessState
	return ps.UserTime() + ps.SystemTime(), nil
}

// kill ends the server without waiting for a clean exit; for cleanup.
func (p *rpcProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// tailBuffer keeps the last max bytes written to it, for error messages
// about a process whose stderr would otherwise grow without bound.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
