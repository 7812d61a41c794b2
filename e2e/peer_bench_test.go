//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// The side-by-side mode of the suite: plannr-mcp and a reference server, the
// same two tools written the plain way with the official Go SDK, measured in
// one run on the same fake Plannr, figure by figure, with their ratio. On a
// shared machine absolute times drift from run to run; ratios taken in one
// run, with the two servers' spawns and calls interleaved, hold.
//
//	go test -run '^$' -bench 'SideBySide' -benchtime 1x -count 6 ./e2e
//
// The reference server's source is ../shared/peers/go-sdk from the
// repository root, or the folder PLANNR_MCP_PEER_DIR names; the benchmark
// builds it (go build, default flags, as plannr-mcp is built) and is skipped
// with a message where the folder is absent.

// peerDirEnv names the folder of the reference server's source.
const peerDirEnv = "PLANNR_MCP_PEER_DIR"

// peerDir is where the reference server's source is. Tests run in e2e/,
// one level below the repository root.
func peerDir() string {
	if dir := os.Getenv(peerDirEnv); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "shared", "peers", "go-sdk")
}

// builtPeer builds the reference server once per test run, into a
// temporary folder: its source folder may be read-only.
var builtPeer = sync.OnceValues(func() (string, error) {
	dir := peerDir()
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("no reference server at %s: %w", dir, err)
	}
	out, err := os.MkdirTemp("", "plannr-mcp-peer")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(out, "go-sdk-peer")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off") // its own module, not a workspace's
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{out: string(msg), err: err}
	}
	return bin, nil
})

// peerBinary returns the built reference server, or skips the benchmark
// when its source is not there.
func peerBinary(b *testing.B) string {
	b.Helper()
	bin, err := builtPeer()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// go test prints a skipped benchmark's message only with -v.
		msg := fmt.Sprintf("side by side skipped: %v (set %s to the folder of the reference server)", err, peerDirEnv)
		fmt.Fprintln(os.Stderr, msg)
		b.Skip(msg)
	case err != nil:
		b.Fatalf("building the reference server: %v", err)
	}
	return bin
}

// peerServingURL finds the reference server's URL in what it logs.
var peerServingURL = regexp.MustCompile(`streamable HTTP on (http://127\.0\.0\.1:\d+/mcp)`)

// sideServer is one of the two servers compared.
type sideServer struct {
	name string
	bin  string
	// stdio are the arguments that serve stdio.
	stdio []string
	// bare are the arguments of a run that starts the process, initializes
	// its packages and exits: plannr-mcp version, go-sdk-peer -h.
	bare []string
	// http starts the server on streamable HTTP, on a free loopback port.
	http func(b *testing.B) *httpProcess
}

// sideServers are plannr-mcp, as every benchmark of the suite runs it, and
// the reference server, both against the fake at url.
func sideServers(b *testing.B, env []string) [2]sideServer {
	bin, peer := binary(b), peerBinary(b)
	return [2]sideServer{
		{
			name: "plannr-mcp", bin: bin, stdio: serverFlags(), bare: []string{"version"},
			http: func(b *testing.B) *httpProcess {
				return startHTTPProcess(b, bin, servingURL, append(env, "PLANNR_MCP_AUTH_TOKENS="+clientToken),
					append([]string{"serve", "--transport", "http", "--addr", "127.0.0.1:0"}, serverFlags()[1:]...)...)
			},
		},
		{
			name: "go-sdk", bin: peer, bare: []string{"-h"},
			http: func(b *testing.B) *httpProcess {
				p := startHTTPProcess(b, peer, peerServingURL, env, "-http", "-port", freePort(b))
				// It logs its URL before it listens.
				waitListening(b, p.url)
				return p
			},
		},
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// waitListening waits until the host of url accepts connections.
func waitListening(b *testing.B, url string) {
	b.Helper()
	host := strings.TrimPrefix(strings.TrimSuffix(url, "/mcp"), "http://")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s does not accept connections: %v", host, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sideTable gathers the figures of a side-by-side run: each reported as a
// metric per server and their ratio, and printed as a table at the end.
type sideTable struct {
	b    *testing.B
	rows []string
}

// add reports one figure, plannr-mcp's and the reference server's, in unit
// (a benchstat unit such as "ms/init-p50", suffixed -plannr and -peer),
// and their ratio in the unit ratio, unless ratio is empty. target, when
// not empty, is the target for the ratio, or for plannr-mcp's own
// figure.
func (t *sideTable) add(figure, unit, ratio string, ours, peer float64, target string) {
	t.b.ReportMetric(ours, unit+"-plannr")
	t.b.ReportMetric(peer, unit+"-peer")
	shown := "—"
	if ratio != "" {
		t.b.ReportMetric(ours/peer, ratio)
		shown = fmt.Sprintf("%.2f×", ours/peer)
	}
	t.rows = append(t.rows, fmt.Sprintf("%-56s %10.4g %10.4g %8s   %s", figure, ours, peer, shown, target))
}

// print logs the table.
func (t *sideTable) print() {
	t.b.Logf("side by side with the reference server (official Go SDK), built from %s:\n%-56s %10s %10s %8s   %s\n%s",
		peerDir(), "figure", "plannr-mcp", "go-sdk", "ratio", "target", strings.Join(t.rows, "\n"))
}

// BenchmarkSideBySide measures plannr-mcp and the reference server in one
// run: their starts, their stdio list calls and their HTTP list calls at
// 64 sessions, interleaved so that both see the same load.
func BenchmarkSideBySide(b *testing.B) {
	up, url := startUpstream(b, benchConns)
	env := benchEnv(b, url)
	sides := sideServers(b, env)
	ctx := context.Background()

	// Spawn to the initialize response, as a client starts a server; then
	// the idle server's peak memory after tools/list; then the CPU time of
	// a process that only starts and exits.
	b.Run("start", func(b *testing.B) {
		var toInit, bare, handshakeCPU [2]latencies
		var peak [2][]int64
		for range b.N {
			for range coldStarts {
				for i, s := range sides {
					start := time.Now()
					p, err := startInitialized(s.bin, env, s.stdio...)
					if err != nil {
						b.Fatalf("%s: %v", s.name, err)
					}
					toInit[i] = append(toInit[i], time.Since(start))
					if err := p.listTools(); err != nil {
						p.kill()
						b.Fatalf("%s: %v", s.name, err)
					}
					rss, err := p.peakRSS()
					if err != nil {
						p.kill()
						b.Fatal(err)
					}
					peak[i] = append(peak[i], rss)
					cpu, err := p.stop()
					if err != nil {
						b.Fatalf("%s: %v", s.name, err)
					}
					handshakeCPU[i] = append(handshakeCPU[i], cpu)

					cmd := exec.Command(s.bin, s.bare...)
					cmd.Env = env
					if out, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("%s %s: %v: %s", s.name, strings.Join(s.bare, " "), err, out)
					}
					bare[i] = append(bare[i], cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
				}
			}
		}
		t := &sideTable{b: b}
		b.ReportMetric(0, "ns/op")
		t.add("spawn to initialize answered, median, ms", "ms/init-p50", "x-init-p50", millis(toInit[0].percentile(50)), millis(toInit[1].percentile(50)), "≤ 1.3×")
		t.add("CPU of a start, handshake and exit, median, ms", "ms-cpu/handshake-p50", "x-cpu-handshake", millis(handshakeCPU[0].percentile(50)), millis(handshakeCPU[1].percentile(50)), "")
		t.add("CPU of a bare start (version; -h), median, ms", "ms-cpu/bare-p50", "x-cpu-bare", millis(bare[0].percentile(50)), millis(bare[1].percentile(50)), "≤ 1.3×")
		t.add("peak RSS, stdio, idle after tools/list, median, MiB", "MiB-peak-idle", "x-peak-idle", mebibytes(medianInt(peak[0])), mebibytes(medianInt(peak[1])), "≤ 1.0×")
		t.print()
	})

	// Sequential list calls over stdio, the two servers and the direct
	// request in turn, in blocks of 50.
	b.Run("stdio", func(b *testing.B) {
		up.reset()
		direct := &http.Client{Transport: plannr.NewTransport()}
		defer direct.CloseIdleConnections()
		list := benchToolCalls(up.records[0])[0]
		var idle, cpu [2]time.Duration
		for i, s := range sides {
			idle[i] = idleCPU(b, s.bin, env, s.stdio...)
		}
		var viaMCP [2]latencies
		var viaHTTP latencies
		calls := 0
		for range b.N {
			var procs [2]*rpcProc
			for i, s := range sides {
				p, err := startRPC(s.bin, env, s.stdio...)
				if err == nil {
					err = p.handshake()
				}
				if err != nil {
					b.Fatalf("%s: %v", s.name, err)
				}
				b.Cleanup(p.kill)
				procs[i] = p
			}
			id := 100
			call := func(i int) (time.Duration, error) {
				id++
				start := time.Now()
				resp, err := procs[i].roundTrip(list.message(id))
				elapsed := time.Since(start)
				if err == nil && (bytes.Contains(resp, []byte(`"isError":true`)) || !bytes.Contains(resp, []byte(`"structuredContent"`))) {
					err = fmt.Errorf("%s: list failed: %.300s", sides[i].name, resp)
				}
				return elapsed, err
			}
			directCallTimed := func() (time.Duration, error) {
				start := time.Now()
				err := directCall(ctx, direct, list, url, 0)
				return time.Since(start), err
			}
			for range stdioWarmup {
				for i := range procs {
					if _, err := call(i); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := directCallTimed(); err != nil {
					b.Fatal(err)
				}
			}
			const block = 50
			for n := 0; n < stdioCalls; n += block {
				for i := range procs {
					for range block {
						d, err := call(i)
						if err != nil {
							b.Fatal(err)
						}
						viaMCP[i] = append(viaMCP[i], d)
					}
				}
				for range block {
					d, err := directCallTimed()
					if err != nil {
						b.Fatal(err)
					}
					viaHTTP = append(viaHTTP, d)
				}
			}
			for i, p := range procs {
				used, err := p.stop()
				if err != nil {
					b.Fatalf("%s: %v", sides[i].name, err)
				}
				cpu[i] += used - idle[i]
			}
			calls += stdioWarmup + stdioCalls
		}
		t := &sideTable{b: b}
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(micros(viaHTTP.percentile(50)), "us/direct-p50")
		t.add("server CPU per stdio list call, µs", "us-cpu/call", "x-cpu-call", micros(cpu[0])/float64(calls), micros(cpu[1])/float64(calls), "≤ 300 µs (≈ 0.25×)")
		t.add("stdio list call, median, µs", "us/call-p50", "x-call-p50", micros(viaMCP[0].percentile(50)), micros(viaMCP[1].percentile(50)), "")
		direct50 := float64(viaHTTP.percentile(50))
		t.add("stdio list p50 / direct GET p50", "x-direct-p50", "", float64(viaMCP[0].percentile(50))/direct50, float64(viaMCP[1].percentile(50))/direct50, "plannr-mcp ≤ 2×")
		t.print()
	})

	// List calls over streamable HTTP from 64 sessions, each calling as soon
	// as it is answered; a fresh server of each kind per run.
	b.Run("http", func(b *testing.B) {
		const sessions = 64
		up.reset()
		transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
		defer transport.CloseIdleConnections()
		client := &http.Client{Transport: transport}
		msg := benchToolCalls(up.records[0])[0].message(2)
		var rate, cpuPerCall [2]float64
		var peak [2]int64
		for range b.N {
			for i, s := range sides {
				srv := s.http(b)
				pid := srv.cmd.Process.Pid
				open := openWarmSessions(b, ctx, client, srv.url, clientToken, sessions, msg)
				cpu0, err := procCPU(pid)
				if err != nil {
					b.Fatal(err)
				}
				all, elapsed := callConcurrently(b, sessions, httpCalls(sessions), func(j int) error { return open[j].call(ctx, msg) })
				cpu1, err := procCPU(pid)
				if err != nil {
					b.Fatal(err)
				}
				rss, err := vmHWM(pid)
				if err != nil {
					b.Fatal(err)
				}
				rate[i] += float64(len(all)) / elapsed.Seconds()
				cpuPerCall[i] += micros(cpu1-cpu0) / float64(len(all))
				peak[i] = max(peak[i], rss)
				transport.CloseIdleConnections()
				if code := srv.stop(b); code != 0 {
					b.Fatalf("%s exited with %d after SIGTERM", s.name, code)
				}
			}
		}
		n := float64(b.N)
		t := &sideTable{b: b}
		b.ReportMetric(0, "ns/op")
		t.add("HTTP calls/s at 64 sessions", "calls/s", "x-calls/s", rate[0]/n, rate[1]/n, "≥ 4×")
		t.add("server CPU per HTTP call at 64 sessions, µs", "us-cpu/http-call", "x-cpu-http-call", cpuPerCall[0]/n, cpuPerCall[1]/n, "")
		t.add("peak RSS, HTTP, after 64 sessions, MiB", "MiB-peak-64", "x-peak-64", mebibytes(peak[0]), mebibytes(peak[1]), "≤ 1.0×")
		t.print()
	})
}

// medianInt is the median of a set of sizes.
func medianInt(v []int64) int64 {
	l := make(latencies, len(v))
	for i, n := range v {
		l[i] = time.Duration(n)
	}
	return int64(l.percentile(50))
}
