package telemetry

import (
	"strings"
	"testing"
	"time"
)

func TestTraceConfig(t *testing.T) {
	const secret = "s3cret-api-key"
	cases := []struct {
		name    string
		env     map[string]string
		off     bool
		wantURL string
		wantErr string // a part of the error; empty for none
		check   func(*testing.T, *exportConfig)
	}{
		{name: "nothing set", env: nil, off: true},
		{name: "only headers", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=b"}, off: true},
		{name: "base endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, wantURL: "http://collector:4318/v1/traces"},
		{name: "traces endpoint as is", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://ignored:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector/custom",
		}, wantURL: "https://collector/custom"},
		{name: "sdk disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, off: true},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, off: true},
		{name: "another exporter", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "otlp only"},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantErr: "OTEL_EXPORTER_OTLP_PROTOCOL \"grpc\""},
		{name: "per-signal protocol wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, wantURL: "http://c:4318/v1/traces"},
		{name: "not a URL", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, wantErr: "not an http or https URL"},
		{name: "headers, timeout, gzip, resource, sampler", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT":    "http://c:4318",
			"OTEL_EXPORTER_OTLP_HEADERS":     "x-api-key=" + secret + ",tenant=a%20b",
			"OTEL_EXPORTER_OTLP_TIMEOUT":     "2500",
			"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
			"OTEL_RESOURCE_ATTRIBUTES":       "deployment.environment=prod,service.name=from-attrs",
			"OTEL_TRACES_SAMPLER":            "parentbased_traceidratio",
			"OTEL_TRACES_SAMPLER_ARG":        "0.25",
		}, wantURL: "http://c:4318/v1/traces", check: func(t *testing.T, c *exportConfig) {
			if c.headers["x-api-key"] != secret || c.headers["tenant"] != "a b" {
				t.Errorf("headers = %v", c.headers)
			}
			if c.timeout != 2500*time.Millisecond || !c.gzip {
				t.Errorf("timeout %v, gzip %v", c.timeout, c.gzip)
			}
			if c.serviceName != "from-attrs" || len(c.resource) != 1 || c.resource[0].Value.AsString() != "prod" {
				t.Errorf("service name %q, resource %v", c.serviceName, c.resource)
			}
			if !strings.Contains(c.sampler.Description(), "0.25") {
				t.Errorf("sampler %s", c.sampler.Description())
			}
		}},
		{name: "service name wins over attributes", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_RESOURCE_ATTRIBUTES": "service.name=a", "OTEL_SERVICE_NAME": "b",
		}, wantURL: "http://c:4318/v1/traces", check: func(t *testing.T, c *exportConfig) {
			if c.serviceName != "b" {
				t.Errorf("service name %q, want b", c.serviceName)
			}
		}},
		{name: "a bad header never quotes its value", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=" + secret + "%zz"}, wantErr: "not percent-encoded"},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "10s"}, wantErr: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"},
		{name: "bad compression", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, wantErr: "gzip or none"},
		{name: "missing CA", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318", "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"}, wantErr: "OTEL_EXPORTER_OTLP_CERTIFICATE"},
		{name: "client cert without key", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/x.pem"}, wantErr: "set both"},
		{name: "bad sampler", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "sometimes"}, wantErr: "OTEL_TRACES_SAMPLER"},
		{name: "bad ratio", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, wantErr: "OTEL_TRACES_SAMPLER_ARG"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := traceConfig(tc.env)
			switch {
			case tc.off:
				if err != errTracingOff {
					t.Fatalf("err = %v, want tracing off", err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error quotes a header's value: %v", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if c.url != tc.wantURL {
					t.Errorf("url = %q, want %q", c.url, tc.wantURL)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
			}
		})
	}
}
