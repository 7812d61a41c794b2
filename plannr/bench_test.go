package plannr

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// BenchmarkRateLimiter reports what the client-side rate limiter adds to a
// request when it is on but never binding: the slot it takes before the
// request and the reading of Plannr's rate-limit headers after it, as the
// resilience layer does for every attempt. It runs a fixed number of
// requests, so that it fits the benchmark suite's -benchtime 1x.
func BenchmarkRateLimiter(b *testing.B) {
	const requests = 200_000
	// Far more requests a minute than the loop can make: never binding.
	l := NewRateLimiter(RateLimit{Requests: 1 << 30, Per: time.Minute})
	clock := systemClock{}
	header := http.Header{"X-Ratelimit-Limit": {"500"}, "X-Ratelimit-Remaining": {"499"}}
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for range b.N * requests {
		held, err := l.wait(ctx, clock)
		if err != nil || held != 0 {
			b.Fatalf("the limiter held a request back %s: %v", held, err)
		}
		l.observe(clock.Now(), header)
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	n := float64(b.N * requests)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/request")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/request")
}
