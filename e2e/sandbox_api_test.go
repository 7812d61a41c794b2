package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// startSandboxAPI runs "plannr-mcp sandbox-api" and returns its base URL,
// the first line it prints; it is stopped when the test ends.
func startSandboxAPI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"sandbox-api"}, args...)...)
	cmd.Env = append(baseEnv(t), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &plannrtest.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sandbox-api did not exit cleanly when stopped: %v; stderr:\n%s", err, stderr.String())
			}
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("sandbox-api did not stop within 5s")
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("sandbox-api printed no URL: %v\nstderr:\n%s", err, stderr.String())
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first stdout line = %q; want the base URL", line)
	}
	return url
}

// sandboxStatus is the status of one request to the sandbox.
func sandboxStatus(t *testing.T, ctx context.Context, method, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

func TestSandboxAPIToken(t *testing.T) {
	ctx := context.Background()
	const connections = "/api/v1/oauth/connections"
	url := startSandboxAPI(t, []string{"PLANNR_SANDBOX_TOKEN=from-env"})
	if status := sandboxStatus(t, ctx, http.MethodGet, url+connections, "from-env"); status != http.StatusOK {
		t.Errorf("token from PLANNR_SANDBOX_TOKEN: %d", status)
	}
	if status := sandboxStatus(t, ctx, http.MethodGet, url+connections, "sandbox-token"); status != http.StatusUnauthorized {
		t.Errorf("default token still accepted: %d", status)
	}
	url = startSandboxAPI(t, []string{"PLANNR_SANDBOX_TOKEN=from-env"}, "--token", "from-flag", "--addr", "127.0.0.1:0")
	if status := sandboxStatus(t, ctx, http.MethodGet, url+connections, "from-flag"); status != http.StatusOK {
		t.Errorf("token from --token: %d", status)
	}
}

func TestSandboxAPIUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
	}{{[]string{"--no-such-flag"}, 2}, {[]string{"extra"}, 2}, {[]string{"--token", ""}, 2}, {[]string{"--addr", "not an address"}, 1}} {
		if code, _, stderr := runCLI(t, baseEnv(t), append([]string{"sandbox-api"}, tt.args...)...); code != tt.code {
			t.Errorf("sandbox-api %v: exit %d, want %d; stderr %s", tt.args, code, tt.code, stderr)
		}
	}
}
