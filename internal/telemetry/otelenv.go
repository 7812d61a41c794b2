package telemetry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TraceEnv lists the standard OpenTelemetry variables the server reads to
// configure tracing. The CLI reads them with the rest of its environment
// and hands them over in Config.Env. (The SDK's batch processor reads its
// own OTEL_BSP_* variables, and span limits their OTEL_*_LIMIT ones.)
func TraceEnv() []string {
	var vars []string
	for _, v := range []string{"ENDPOINT", "HEADERS", "TIMEOUT", "PROTOCOL", "COMPRESSION", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
		vars = append(vars, "OTEL_EXPORTER_OTLP_"+v, "OTEL_EXPORTER_OTLP_TRACES_"+v)
	}
	return append(vars, "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME",
		"OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG")
}

// exportConfig is where and how spans are exported, from the environment.
type exportConfig struct {
	url         string
	headers     map[string]string
	timeout     time.Duration
	gzip        bool
	tls         *tls.Config
	serviceName string
	resource    []attribute.KeyValue
	sampler     sdktrace.Sampler
}

// defaultExportTimeout is OTLP's default time limit for one export.
const defaultExportTimeout = 10 * time.Second

// errTracingOff reports an environment that asks for no traces.
var errTracingOff = errors.New("tracing is off")

// traceConfig reads env as OpenTelemetry's specification says, for the
// OTLP/HTTP exporter with protobuf. It returns errTracingOff unless an
// OTLP endpoint is set, or when the SDK or the traces exporter is turned
// off. A per-signal variable (OTEL_EXPORTER_OTLP_TRACES_*) wins over the
// general one.
func traceConfig(env map[string]string) (*exportConfig, error) {
	get := func(name string) string { return strings.TrimSpace(env[name]) }
	pick := func(name string) (string, string) {
		if v := get("OTEL_EXPORTER_OTLP_TRACES_" + name); v != "" {
			return v, "OTEL_EXPORTER_OTLP_TRACES_" + name
		}
		return get("OTEL_EXPORTER_OTLP_" + name), "OTEL_EXPORTER_OTLP_" + name
	}
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") {
		return nil, errTracingOff
	}
	switch exp := strings.ToLower(get("OTEL_TRACES_EXPORTER")); exp {
	case "", "otlp":
	case "none":
		return nil, errTracingOff
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %q: plannr-mcp exports traces with otlp only (or none)", exp)
	}
	c := &exportConfig{timeout: defaultExportTimeout, serviceName: "plannr-mcp"}
	if v := get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		c.url = v // used as it is
	} else if v := get("OTEL_EXPORTER_OTLP_ENDPOINT"); v != "" {
		c.url = strings.TrimRight(v, "/") + "/v1/traces"
	} else {
		return nil, errTracingOff
	}
	u, err := url.Parse(c.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the OTLP endpoint %q is not an http or https URL", c.url)
	}
	if proto, name := pick("PROTOCOL"); proto != "" && proto != "http/protobuf" {
		return nil, fmt.Errorf("%s %q: plannr-mcp exports traces over http/protobuf only (OTLP/HTTP, usually port 4318)", name, proto)
	}
	if v, name := pick("HEADERS"); v != "" {
		if c.headers, err = parseKeyValues(v); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if v, name := pick("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("%s %q: use a positive number of milliseconds", name, v)
		}
		c.timeout = time.Duration(ms) * time.Millisecond
	}
	switch v, name := pick("COMPRESSION"); v {
	case "", "none":
	case "gzip":
		c.gzip = true
	default:
		return nil, fmt.Errorf("%s %q: use gzip or none", name, v)
	}
	if c.tls, err = tlsConfig(pick); err != nil {
		return nil, err
	}
	if v := get("OTEL_RESOURCE_ATTRIBUTES"); v != "" {
		kv, err := parseKeyValues(v)
		if err != nil {
			return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
		}
		for k, v := range kv {
			if k == "service.name" {
				c.serviceName = v
				continue
			}
			c.resource = append(c.resource, attribute.String(k, v))
		}
	}
	if v := get("OTEL_SERVICE_NAME"); v != "" {
		c.serviceName = v
	}
	if c.sampler, err = sampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		return nil, err
	}
	return c, nil
}

// parseKeyValues reads the W3C Baggage-like lists of OTEL_EXPORTER_OTLP_HEADERS
// and OTEL_RESOURCE_ATTRIBUTES: key=value pairs separated by commas, values
// percent-encoded. An error never quotes a value, which may be a secret.
func parseKeyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %d is not key=value", i+1)
		}
		value, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("the value of %q is not percent-encoded properly", k)
		}
		out[k] = value
	}
	return out, nil
}

// tlsConfig reads the certificate variables: a CA to trust, and a client
// certificate with its key.
func tlsConfig(pick func(string) (string, string)) (*tls.Config, error) {
	ca, caName := pick("CERTIFICATE")
	cert, certName := pick("CLIENT_CERTIFICATE")
	key, keyName := pick("CLIENT_KEY")
	if ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", caName, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate", caName, ca)
		}
	}
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("set both %s and %s, or neither", certName, keyName)
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%s and %s: %w", certName, keyName, err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// sampler is OTEL_TRACES_SAMPLER's sampler; the default is
// parentbased_always_on.
func sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: use a ratio from 0 to 1", arg)
		}
		return r, nil
	}
	switch strings.ToLower(name) {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(strings.ToLower(name), "parentbased") {
			return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
		}
		return sdktrace.TraceIDRatioBased(r), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q: use always_on, always_off, traceidratio or their parentbased_ forms", name)
}
