package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

func sandboxDo(t *testing.T, ctx context.Context, method, url, token, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// A fresh connection each time: over a reused one, Go's client would
	// quietly retry a request whose connection a fault cut.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

func LoggedRequests(t *testing.T, url string) []sandbox.LoggedRequest {
	t.Helper()
	status, body, err := sandboxDo(t, context.Background(), http.MethodGet, url+"/_sandbox/requests", "", "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /_sandbox/requests: %d %v %s", status, err, body)
	}
	var out struct {
		Requests []sandbox.LoggedRequest `json:"requests"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("GET /_sandbox/requests: %v\n%s", err, body)
	}
	return out.Requests
}

func TestInspectionEndpoints(t *testing.T) {
	running, err := sandbox.Start(context.Background(), sandbox.Config{Inspect: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(running.Close)
	url := running.URL
	ctx := context.Background()
	const connections = "/api/v1/oauth/connections"

	if status, body, err := sandboxDo(t, ctx, http.MethodGet, url+connections, "sandbox-token", ""); err != nil || status != http.StatusOK || !strings.Contains(body, "My Fundment Account 1") {
		t.Fatalf("list with the sandbox token: %d %v %s", status, err, body)
	}
	if status, _, _ := sandboxDo(t, ctx, http.MethodGet, url+connections, "wrong", ""); status != http.StatusUnauthorized {
		t.Fatalf("list with a wrong token: %d, want 401", status)
	}
	if status, _, _ := sandboxDo(t, ctx, http.MethodPut, url+connections+"/8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c", "sandbox-token", `{"label":"Renamed"}`); status != http.StatusOK {
		t.Fatalf("rename: %d", status)
	}

	got := LoggedRequests(t, url)
	want := []sandbox.LoggedRequest{
		{Method: "GET", Path: connections, Status: 200, State: "completed"},
		{Method: "GET", Path: connections, Status: 401, State: "completed"},
		{Method: "PUT", Path: connections + "/8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c", Status: 200, State: "completed"},
	}
	if len(got) != len(want) {
		t.Fatalf("request log = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	t.Run("status fault", func(t *testing.T) {
		status, body, _ := sandboxDo(t, ctx, http.MethodPost, url+"/_sandbox/faults", "", `{"method":"GET","path":"/api/v1/oauth/connections","status":503,"body":"<html>Bad gateway</html>"}`)
		if status != http.StatusNoContent {
			t.Fatalf("POST /_sandbox/faults: %d %s", status, body)
		}
		if status, body, _ := sandboxDo(t, ctx, http.MethodGet, url+connections, "sandbox-token", ""); status != 503 || !strings.Contains(body, "Bad gateway") {
			t.Fatalf("faulted request: %d %s", status, body)
		}
		if status, _, _ := sandboxDo(t, ctx, http.MethodGet, url+connections, "sandbox-token", ""); status != 200 {
			t.Fatalf("a fault with no times should apply once; next request: %d", status)
		}
	})

	t.Run("delay fault and a caller that goes away", func(t *testing.T) {
		if status, body, _ := sandboxDo(t, ctx, http.MethodPost, url+"/_sandbox/faults", "", `{"path":"/api/v1/logins","delay_ms":30000}`); status != http.StatusNoContent {
			t.Fatalf("POST /_sandbox/faults: %d %s", status, body)
		}
		callCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, _, err := sandboxDo(t, callCtx, http.MethodGet, url+"/api/v1/logins", "sandbox-token", ""); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("delayed request: err = %v, want a deadline", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			log := LoggedRequests(t, url)
			last := log[len(log)-1]
			if last.Path == "/api/v1/logins" && last.State == "aborted" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the abandoned request is not logged as aborted: %+v", last)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("faults that cut the connection, hang or set headers", func(t *testing.T) {
		queue := func(fault string) {
			t.Helper()
			if status, body, _ := sandboxDo(t, ctx, http.MethodPost, url+"/_sandbox/faults", "", fault); status != http.StatusNoContent {
				t.Fatalf("POST /_sandbox/faults %s: %d %s", fault, status, body)
			}
		}
		lastState := func(want string) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for {
				log := LoggedRequests(t, url)
				if log[len(log)-1].State == want {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("last request = %+v; want state %q", log[len(log)-1], want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}

		queue(`{"path":"/api/v1/logins","reset":true}`)
		if _, _, err := sandboxDo(t, ctx, http.MethodGet, url+"/api/v1/logins", "sandbox-token", ""); err == nil {
			t.Fatal("a reset fault answered")
		}
		lastState("dropped")

		queue(`{"path":"/api/v1/logins","hang":true}`)
		callCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, _, err := sandboxDo(t, callCtx, http.MethodGet, url+"/api/v1/logins", "sandbox-token", ""); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a hang fault: err = %v, want a deadline", err)
		}
		lastState("aborted")

		queue(`{"path":"/api/v1/logins","status":429,"headers":{"Retry-After":"3"},"content_type":"text/plain","body":"slow down"}`)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/logins", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != "3" || res.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("a 429 fault: %d %v", res.StatusCode, res.Header)
		}
		lastState("completed")
	})

	t.Run("bad faults are refused", func(t *testing.T) {
		for _, body := range []string{`{"colour":"red"}`, `{"path":"/x"}`, `not json`, `{"delay_ms":-1,"status":500}`} {
			if status, _, _ := sandboxDo(t, ctx, http.MethodPost, url+"/_sandbox/faults", "", body); status != http.StatusBadRequest {
				t.Errorf("fault %s: status %d, want 400", body, status)
			}
		}
		if status, _, _ := sandboxDo(t, ctx, http.MethodGet, url+"/_sandbox/nope", "", ""); status != http.StatusNotFound {
			t.Errorf("unknown control endpoint: %d, want 404", status)
		}
	})

	t.Run("reset", func(t *testing.T) {
		if status, _, _ := sandboxDo(t, ctx, http.MethodPost, url+"/_sandbox/faults", "", `{"status":500}`); status != http.StatusNoContent {
			t.Fatal("could not queue a fault")
		}
		if status, _, _ := sandboxDo(t, ctx, http.MethodPost, url+"/_sandbox/reset", "", ""); status != http.StatusNoContent {
			t.Fatalf("POST /_sandbox/reset: %d", status)
		}
		if log := LoggedRequests(t, url); len(log) != 0 {
			t.Fatalf("request log after reset: %+v", log)
		}
		status, body, _ := sandboxDo(t, ctx, http.MethodGet, url+connections, "sandbox-token", "")
		if status != http.StatusOK {
			t.Fatalf("the queued fault survived the reset: %d", status)
		}
		if strings.Contains(body, "Renamed") || !strings.Contains(body, "My Fundment Account 1") {
			t.Fatalf("the sample data was not restored: %s", body)
		}
	})
}
