package cli

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

// TestTelemetrySettings: --metrics-addr is a serve setting, the OTEL_
// variables are read with the rest of the environment, and a tracing
// environment the server cannot honour is a usage error that names the
// variable and never quotes a header.
func TestTelemetrySettings(t *testing.T) {
	env := map[string]string{
		"PLANNR_MCP_METRICS_ADDR":     "127.0.0.1:9464",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
		"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=hdr-secret-31",
		"OTEL_SOMETHING_ELSE":         "not read",
	}
	s := loadSettings(func(k string) string { return env[k] })
	cfg, err := s.parse(serveGroups()...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.metricsAddr != "127.0.0.1:9464" {
		t.Errorf("metrics address %q", cfg.metricsAddr)
	}
	want := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=hdr-secret-31"}
	if !maps.Equal(cfg.otel, want) {
		t.Errorf("otel = %v, want %v", cfg.otel, want)
	}

	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		return map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
			"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=hdr-secret-31",
		}[k]
	}
	code := Run(t.Context(), []string{"call", "list_oauth_connections", "--sandbox"}, IO{In: strings.NewReader(""), Out: &stdout, Err: &stderr}, getenv, "test")
	if code != exitUsage || !strings.Contains(stderr.String(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Errorf("exit code %d, want %d with a message naming OTEL_EXPORTER_OTLP_PROTOCOL; stderr:\n%s", code, exitUsage, stderr.String())
	}
	if strings.Contains(stderr.String()+stdout.String(), "hdr-secret-31") {
		t.Errorf("the output quotes the OTLP header:\n%s", stderr.String())
	}

	// Only serve takes --metrics-addr.
	stdout.Reset()
	stderr.Reset()
	if code := Run(t.Context(), []string{"call", "list_oauth_connections", "--sandbox", "--metrics-addr", "127.0.0.1:0"}, IO{In: strings.NewReader(""), Out: &stdout, Err: &stderr}, func(string) string { return "" }, "test"); code != exitUsage {
		t.Errorf("call --metrics-addr: exit code %d, want %d", code, exitUsage)
	}
}
