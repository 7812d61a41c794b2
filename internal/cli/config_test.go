package cli

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// resilience is the part of a config these tests compare.
type resilience struct {
	retryMax       int
	attemptTimeout time.Duration
	rateLimit      int
	listCacheTTL   time.Duration
	maxResponse    int64
}

func TestResilienceSettings(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    resilience
		wantErr string
	}{
		{
			name: "defaults",
			want: resilience{retryMax: 4, attemptTimeout: 10 * time.Second, rateLimit: 500, maxResponse: 32 * mib},
		},
		{
			name: "flags",
			args: []string{"--retry-max", "2", "--attempt-timeout", "3s", "--rate-limit", "120", "--list-cache-ttl", "5s", "--max-response-bytes", "64MiB"},
			want: resilience{retryMax: 2, attemptTimeout: 3 * time.Second, rateLimit: 120, listCacheTTL: 5 * time.Second, maxResponse: 64 * mib},
		},
		{
			name: "environment",
			env:  map[string]string{"PLANNR_RETRY_MAX": "0", "PLANNR_ATTEMPT_TIMEOUT": "0", "PLANNR_RATE_LIMIT": "0", "PLANNR_LIST_CACHE_TTL": "2s", "PLANNR_MAX_RESPONSE_BYTES": "1048576"},
			want: resilience{retryMax: 0, attemptTimeout: 0, rateLimit: 0, listCacheTTL: 2 * time.Second, maxResponse: mib},
		},
		{
			name: "flags override the environment",
			args: []string{"--rate-limit", "60"},
			env:  map[string]string{"PLANNR_RATE_LIMIT": "0"},
			want: resilience{retryMax: 4, attemptTimeout: 10 * time.Second, rateLimit: 60, maxResponse: 32 * mib},
		},
		{name: "negative retries", args: []string{"--retry-max", "-1"}, wantErr: "--retry-max"},
		{name: "rate limit not a number", env: map[string]string{"PLANNR_RATE_LIMIT": "lots"}, wantErr: `PLANNR_RATE_LIMIT "lots"`},
		{name: "bad attempt timeout", args: []string{"--attempt-timeout", "soon"}, wantErr: "--attempt-timeout"},
		{name: "negative cache lifetime", args: []string{"--list-cache-ttl", "-5s"}, wantErr: "--list-cache-ttl"},
		{name: "response limit of zero", args: []string{"--max-response-bytes", "0"}, wantErr: "--max-response-bytes"},
		{name: "response limit with an unknown unit", env: map[string]string{"PLANNR_MAX_RESPONSE_BYTES": "32MB"}, wantErr: `PLANNR_MAX_RESPONSE_BYTES "32MB"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			settings := loadSettings(getenv)
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			settings.declare(fs, groupClient)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := settings.parse(groupClient)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := resilience{retryMax: cfg.retryMax, attemptTimeout: cfg.attemptTimeout, rateLimit: cfg.rateLimit, listCacheTTL: cfg.listCacheTTL, maxResponse: cfg.maxResponse}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCallWithResilienceFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"call", "list_oauth_connections", "--sandbox", "--rate-limit", "0", "--retry-max", "0", "--list-cache-ttl", "5s"}
	if code := Run(t.Context(), args, IO{In: strings.NewReader(""), Out: &stdout, Err: &stderr}, func(string) string { return "" }, "test"); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "6 connections") {
		t.Errorf("stdout lacks the sandbox's connections:\n%s", stdout.String())
	}
}
