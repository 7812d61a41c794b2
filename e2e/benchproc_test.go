//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// What the benchmarks share beyond the JSON-RPC client: the server's peak
// memory as the kernel counts it, percentiles and generated connections.

// peakRSS returns the process's peak resident set (VmHWM) in bytes.
func (p *rpcProc) peakRSS() (int64, error) { return vmHWM(p.cmd.Process.Pid) }

// vmHWM reads VmHWM, the peak resident set, of a live process, in bytes.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmHWM %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// latencies is a set of timed calls.
type latencies []time.Duration

// percentile returns the nearest-rank p-th percentile (0 < p <= 100).
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(rank, len(s)-1))]
}

func (l latencies) sum() time.Duration {
	var total time.Duration
	for _, d := range l {
		total += d
	}
	return total
}

// micros and millis turn durations into the figures the benchmarks report.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mebibytes(n int64) float64      { return float64(n) / (1 << 20) }

// benchRecords returns n connections modelled on the sample ones, each with
// its own uuid and label.
func benchRecords(n int, now time.Time) []sandbox.Record {
	samples := sandbox.SampleConnections(now)
	out := make([]sandbox.Record, n)
	for i := range out {
		r := samples[i%len(samples)]
		r.UUID = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i+1, i%0x10000, i%0x1000, i%0x1000, i+1)
		r.Label = fmt.Sprintf("%s #%d", r.Label, i+1)
		r.RefreshAuthorizationURL = "https://api.plannrcrm.com/oauth/" + r.ProviderName + "/authorize/" + r.UUID
		out[i] = r
	}
	return out
}

// procCPU reads the user plus system time a live process has used so far,
// from /proc/PID/stat, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it do not.
	_, rest, ok := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat: %q", b)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
