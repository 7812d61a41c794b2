package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/plannr-mcp/plannr-mcp/tools/httpserve"
)

// Environment variables of the serve command's transport settings; flags
// override them.
const (
	envTransport         = "PLANNR_MCP_TRANSPORT"
	envAddr              = "PLANNR_MCP_ADDR"
	envAuthTokens        = "PLANNR_MCP_AUTH_TOKENS"
	envAuthTokenFile     = "PLANNR_MCP_AUTH_TOKEN_FILE"
	envAllowedOrigins    = "PLANNR_MCP_ALLOWED_ORIGINS"
	envTrustedProxies    = "PLANNR_MCP_TRUSTED_PROXIES"
	envStateless         = "PLANNR_MCP_STATELESS"
	envMaxBodyBytes      = "PLANNR_MCP_MAX_BODY_BYTES"
	envMaxSessions       = "PLANNR_MCP_MAX_SESSIONS"
	envSessionIdle       = "PLANNR_MCP_SESSION_IDLE_TIMEOUT"
	envReadHeaderTimeout = "PLANNR_MCP_READ_HEADER_TIMEOUT"
	envReadTimeout       = "PLANNR_MCP_READ_TIMEOUT"
	envIdleTimeout       = "PLANNR_MCP_IDLE_TIMEOUT"
	envShutdownTimeout   = "PLANNR_MCP_SHUTDOWN_TIMEOUT"
)

// Transports the serve command speaks.
const (
	transportStdio = "stdio"
	transportHTTP  = "http"
)

// clientTokenHelp tells a person how to configure client tokens.
const clientTokenHelp = "Set " + envAuthTokens + " (comma-separated) or --auth-token-file (one token a line) to the bearer tokens clients must send, or listen on 127.0.0.1."

// serveOptions are the serve command's transport settings.
type serveOptions struct {
	transport       string
	shutdownTimeout time.Duration
	http            httpserve.Config
}

// declare adds the serve command's flags to fs; the returned function
// finishes the options after parsing.
func (o *serveOptions) declare(fs *flag.FlagSet, getenv func(string) string) func() error {
	transport := envOr(getenv, envTransport, transportStdio)
	addr := envOr(getenv, envAddr, httpserve.DefaultAddr)
	tokenFile := getenv(envAuthTokenFile)
	origins := getenv(envAllowedOrigins)
	proxies := getenv(envTrustedProxies)
	stateless, statelessErr := strconv.ParseBool(envOr(getenv, envStateless, "false"))
	maxBody := envOr(getenv, envMaxBodyBytes, strconv.Itoa(httpserve.DefaultMaxBodyBytes))
	maxSessions := envOr(getenv, envMaxSessions, strconv.Itoa(httpserve.DefaultMaxSessions))
	durations := []struct {
		name, env, help string
		value           string
		dst             *time.Duration
	}{
		{"shutdown-timeout", envShutdownTimeout, "on SIGINT/SIGTERM or when stdin closes, how long calls in flight may run before they are cut off", httpserve.DefaultShutdownTimeout.String(), &o.shutdownTimeout},
		{"session-idle-timeout", envSessionIdle, "HTTP: end a session after this long without a request", httpserve.DefaultSessionIdleTimeout.String(), &o.http.SessionIdleTimeout},
		{"read-header-timeout", envReadHeaderTimeout, "HTTP: time limit for reading a request's headers", httpserve.DefaultReadHeaderTimeout.String(), &o.http.ReadHeaderTimeout},
		{"read-timeout", envReadTimeout, "HTTP: time limit for reading a whole request", httpserve.DefaultReadTimeout.String(), &o.http.ReadTimeout},
		{"idle-timeout", envIdleTimeout, "HTTP: close a keep-alive connection idle this long", httpserve.DefaultIdleTimeout.String(), &o.http.IdleTimeout},
	}

	fs.StringVar(&transport, "transport", transport, "stdio, or http to serve MCP over streamable HTTP (env "+envTransport+")")
	fs.StringVar(&addr, "addr", addr, "HTTP: address to listen on; port 0 picks a free one (env "+envAddr+")")
	fs.StringVar(&tokenFile, "auth-token-file", tokenFile, "HTTP: file of client bearer tokens, one a line (env "+envAuthTokenFile+"; or set "+envAuthTokens+", comma-separated)")
	fs.StringVar(&origins, "allowed-origins", origins, "HTTP: comma-separated browser origins allowed to call the server, e.g. https://app.example.com; empty refuses every request with an Origin (env "+envAllowedOrigins+")")
	fs.StringVar(&proxies, "trusted-proxies", proxies, "HTTP: comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client in logs (env "+envTrustedProxies+")")
	fs.BoolVar(&o.http.Stateless, "stateless", stateless, "HTTP: hold no session state, to run several replicas behind a load balancer (env "+envStateless+")")
	fs.StringVar(&maxBody, "max-body-bytes", maxBody, "HTTP: largest request body accepted (env "+envMaxBodyBytes+")")
	fs.StringVar(&maxSessions, "max-sessions", maxSessions, "HTTP: most live sessions at once (env "+envMaxSessions+")")
	for i := range durations {
		d := &durations[i]
		d.value = envOr(getenv, d.env, d.value)
		fs.StringVar(&d.value, d.name, d.value, d.help+" (env "+d.env+")")
	}

	return func() error {
		o.transport = strings.ToLower(transport)
		if o.transport != transportStdio && o.transport != transportHTTP {
			return fmt.Errorf("--transport %q: use stdio or http", transport)
		}
		for _, d := range durations {
			v, err := time.ParseDuration(d.value)
			if err != nil || v <= 0 {
				return fmt.Errorf("--%s %q: use a positive duration such as 30s", d.name, d.value)
			}
			*d.dst = v
		}
		o.http.ShutdownTimeout = o.shutdownTimeout
		o.http.Addr = addr
		if statelessErr != nil {
			return fmt.Errorf("%s %q: use true or false", envStateless, getenv(envStateless))
		}
		var err error
		if o.http.MaxBodyBytes, err = strconv.ParseInt(maxBody, 10, 64); err != nil || o.http.MaxBodyBytes <= 0 {
			return fmt.Errorf("--max-body-bytes %q: use a positive number of bytes", maxBody)
		}
		if o.http.MaxSessions, err = strconv.Atoi(maxSessions); err != nil || o.http.MaxSessions <= 0 {
			return fmt.Errorf("--max-sessions %q: use a positive number", maxSessions)
		}
		o.http.AllowedOrigins = splitList(origins)
		for _, p := range splitList(proxies) {
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				addr, aerr := netip.ParseAddr(p)
				if aerr != nil {
					return fmt.Errorf("--trusted-proxies: %q is not a CIDR such as 10.0.0.0/8", p)
				}
				prefix = netip.PrefixFrom(addr, addr.BitLen())
			}
			o.http.TrustedProxies = append(o.http.TrustedProxies, prefix.Masked())
		}
		if o.transport != transportHTTP {
			return nil
		}
		tokens, err := httpserve.ParseTokens(getenv(envAuthTokens))
		if err != nil {
			return fmt.Errorf("%s: %w", envAuthTokens, err)
		}
		if tokenFile != "" {
			fromFile, err := httpserve.ReadTokenFile(tokenFile)
			if err != nil {
				return err
			}
			tokens = append(tokens, fromFile...)
		}
		o.http.Tokens = tokens
		return nil
	}
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// serveHTTP serves the app's MCP server over streamable HTTP until ctx ends.
func serveHTTP(ctx context.Context, a *app, o *serveOptions) error {
	cfg := o.http
	cfg.Logger = a.logger
	// A client token never goes upstream, but no upstream text may carry
	// one out either.
	a.secrets.Set("client tokens", cfg.Tokens...)
	srv, err := httpserve.New(a.mcp, cfg)
	if err == nil {
		err = srv.ListenAndServe(ctx)
	}
	if errors.Is(err, httpserve.ErrNoClientTokens) {
		return fmt.Errorf("%w. %s", err, clientTokenHelp)
	}
	return err
}
