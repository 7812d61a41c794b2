package stdio

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// readAll reads the drain until it returns an error, in the background.
func readAll(d *drain) <-chan string {
	got := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 7) // smaller than a line, to exercise leftovers
		for {
			n, err := d.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				got <- b.String()
				return
			}
		}
	}()
	return got
}

func TestDrain(t *testing.T) {
	const (
		request      = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}}` + "\n"
		stringID     = `{"jsonrpc":"2.0","id":"a-1","method":"tools/list"}` + "\n"
		notification = `{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"
		cancelled    = `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}` + "\n"
		response     = `{"jsonrpc":"2.0","id":7,"result":{}}` + "\n"
		responseA1   = `{"jsonrpc":"2.0","id":"a-1","result":{}}` + "\n"
		serverCall   = `{"jsonrpc":"2.0","id":7,"method":"roots/list"}` + "\n"
	)
	tests := []struct {
		name string
		in   string
		// out is written after input has been read, split at | into writes.
		out         string
		useStop     bool
		wantWait    bool // Read must not return EOF before out is written
		wantCutOff  bool
		wantForward string
		wantWritten string // what reaches stdout, when not all of out
	}{
		{name: "nothing in flight", in: notification, wantForward: notification},
		{name: "waits for the response", in: notification + request, out: response, wantWait: true, wantForward: notification + request},
		{name: "response written in pieces", in: request, out: response[:10] + "|" + response[10:], wantWait: true, wantForward: request},
		{name: "string ids", in: stringID, out: responseA1, wantWait: true, wantForward: stringID},
		{name: "a request the client cancelled", in: request + cancelled, wantForward: request + cancelled},
		{name: "the answer to a cancelled request is dropped", in: request + stringID + cancelled, out: response + "|" + responseA1,
			wantWait: true, wantForward: request + stringID + cancelled, wantWritten: responseA1},
		{name: "a server request with the same id is not a response", in: request, out: serverCall, wantCutOff: true, wantForward: request},
		{name: "no response within the bound", in: request, wantCutOff: true, wantForward: request},
		{name: "a signal stops input", in: request, useStop: true, out: response, wantWait: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inR, inW := io.Pipe()
			var out bytes.Buffer
			stop := make(chan struct{})
			bound := 30 * time.Second
			if tt.wantCutOff {
				bound = 100 * time.Millisecond
			}
			d := newDrain(inR, &out, stop, bound, slog.New(slog.DiscardHandler))
			got := readAll(d)
			if _, err := io.WriteString(inW, tt.in); err != nil {
				t.Fatal(err)
			}
			if tt.useStop {
				// The request has been read; what comes after the signal is not.
				waitPending(t, d, 1)
				close(stop)
				go func() { _, _ = io.WriteString(inW, notification) }()
			} else {
				inW.Close()
			}
			if tt.wantWait {
				select {
				case s := <-got:
					t.Fatalf("input ended before the response was written, after %q", s)
				case <-time.After(100 * time.Millisecond):
				}
			}
			for _, part := range strings.Split(tt.out, "|") {
				if _, err := d.Write([]byte(part)); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case s := <-got:
				want := tt.wantForward
				if tt.useStop {
					want = tt.in
				}
				if s != want {
					t.Errorf("passed on %q, want %q", s, want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("input never ended")
			}
			wantWritten := strings.ReplaceAll(tt.out, "|", "")
			if tt.wantWritten != "" {
				wantWritten = tt.wantWritten
			}
			if out.String() != wantWritten {
				t.Errorf("wrote %q, want %q", out.String(), wantWritten)
			}
			if d.cutOff() != tt.wantCutOff {
				t.Errorf("cutOff = %v", d.cutOff())
			}
		})
	}
}

func waitPending(t *testing.T, d *drain, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d.inFlight() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in flight, want %d", d.inFlight(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A read error other than EOF is passed on once requests are drained.
func TestDrainReadError(t *testing.T) {
	boom := errors.New("boom")
	d := newDrain(io.MultiReader(strings.NewReader("{}\n"), errReader{boom}), io.Discard, nil, time.Second, slog.New(slog.DiscardHandler))
	buf := make([]byte, 64)
	if n, err := d.Read(buf); err != nil || string(buf[:n]) != "{}\n" {
		t.Fatalf("first read: %q, %v", buf[:n], err)
	}
	if _, err := d.Read(buf); !errors.Is(err, boom) {
		t.Fatalf("second read: %v, want boom", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestResponseID(t *testing.T) {
	long := `{"content":[{"type":"text","text":"` + strings.Repeat("x", 4096) + `"}]}`
	tests := []struct {
		msg    string
		want   string
		answer bool
	}{
		{`{"jsonrpc":"2.0","id":7,"result":` + long + `}`, "7", true},
		{`{"jsonrpc":"2.0","id":"a-1","error":{"code":-32601,"message":"no"}}`, `"a-1"`, true},
		{`{"jsonrpc":"2.0","result":` + long + `,"id":8}`, "8", true},
		{`{"result":{},"jsonrpc":"2.0","id":9}`, "9", true},
		{`{"jsonrpc":"2.0","method":"notifications/message","params":{}}`, "", false},
		{`{"jsonrpc":"2.0","id":3,"method":"elicitation/create","params":{}}`, "", false},
		{`{"jsonrpc":"2.0","id":4}`, "", false},
		{`not json`, "", false},
		{`[1,2]`, "", false},
	}
	for _, tt := range tests {
		id, ok := responseID([]byte(tt.msg))
		if ok != tt.answer || string(id) != tt.want {
			t.Errorf("responseID(%.60s) = %s, %v; want %s, %v", tt.msg, id, ok, tt.want, tt.answer)
		}
	}
}

func BenchmarkDrainWrite(b *testing.B) {
	d := newDrain(strings.NewReader(""), io.Discard, nil, time.Second, slog.New(slog.DiscardHandler))
	line := []byte(`{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"` + strings.Repeat("x", 8000) + `"}]}}` + "\n")
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := d.Write(line); err != nil {
			b.Fatal(err)
		}
	}
}
