package e2e

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	dashboardURI  = "ui://plannr-mcp/dashboard.html"
	appsExtension = "io.modelcontextprotocol/ui"
	appMIMEType   = "text/html;profile=mcp-app"
)

// servedUI is what a client sees of the MCP App on one server.
type servedUI struct {
	extension   bool   // the capability names the extension
	resourceURI string // list_oauth_connections' _meta.ui.resourceUri
	listed      bool   // resources/list names the page
	page        string // resources/read of the page, "" when refused
	description string // list_oauth_connections' description
	prompt      string // the health report prompt's text
	text        string // a list call's text, dates masked
	structured  string // its structuredContent, as_of masked
	resultMeta  map[string]any
}

func inspectUI(t *testing.T, session *sdk.ClientSession) servedUI {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ui servedUI
	_, ui.extension = session.InitializeResult().Capabilities.Extensions[appsExtension]
	_, tools := listToolNames(t, session)
	list := tools["list_oauth_connections"]
	ui.description = list.Description
	if meta, ok := list.Meta["ui"].(map[string]any); ok {
		ui.resourceURI, _ = meta["resourceUri"].(string)
	}
	resources, err := session.ListResources(ctx, nil)
	if err != nil {
		t.Fatalf("resources/list: %v", err)
	}
	ui.listed = slices.ContainsFunc(resources.Resources, func(r *sdk.Resource) bool { return r.URI == dashboardURI })
	if read, err := session.ReadResource(ctx, &sdk.ReadResourceParams{URI: dashboardURI}); err == nil {
		if len(read.Contents) != 1 || read.Contents[0].MIMEType != appMIMEType {
			t.Fatalf("resources/read %s: %+v", dashboardURI, read.Contents)
		}
		ui.page = read.Contents[0].Text
	}
	prompt, err := session.GetPrompt(ctx, &sdk.GetPromptParams{Name: "connection_health_report"})
	if err != nil {
		t.Fatalf("prompts/get: %v", err)
	}
	ui.prompt = prompt.Messages[0].Content.(*sdk.TextContent).Text

	res := callTool(t, session, "list_oauth_connections", map[string]any{"status": "attention"})
	ui.text = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC`).ReplaceAllString(resultText(res), "NOW")
	var structured map[string]any
	decodeStructured(t, res, &structured)
	structured["as_of"] = "NOW"
	raw, _ := json.Marshal(structured)
	ui.structured = string(raw)
	ui.resultMeta = res.Meta
	return ui
}

// TestDashboardIsServedAndCanBeTurnedOff checks the MCP App as a host sees
// it over stdio, and that --no-ui (or PLANNR_MCP_NO_UI) removes every trace
// of it while the list's text and structured result stay exactly the same.
func TestDashboardIsServedAndCanBeTurnedOff(t *testing.T) {
	_, url := startFake(t)
	withUI, _ := connectStdio(t, fakeEnv(t, url), "2026-07-28")
	on := inspectUI(t, withUI)
	if !on.extension || on.resourceURI != dashboardURI || on.listed {
		t.Errorf("with the UI: extension %v, resourceUri %q, in resources/list %v; want declared, %s, not listed", on.extension, on.resourceURI, on.listed, dashboardURI)
	}
	if !strings.HasPrefix(strings.ToLower(on.page), "<!doctype html") || !strings.Contains(on.page, "Content-Security-Policy") {
		t.Errorf("the dashboard page does not start as HTML with its own CSP: %.200q", on.page)
	}
	if tools, _ := on.resultMeta["plannr-mcp/tools"].([]any); !slices.Contains(tools, any("rename_oauth_connection")) || slices.Contains(tools, any("delete_oauth_connection")) {
		t.Errorf("a list result names the tools %v for the dashboard; want rename and not delete", on.resultMeta)
	}
	for _, s := range []string{on.description, on.prompt} {
		if !strings.Contains(s, "dashboard") || !strings.Contains(s, "reauthorize_oauth_connection") {
			t.Errorf("does not mention the dashboard and the re-authorization tool: %q", s)
		}
	}

	for name, args := range map[string][]string{"--no-ui": {"--no-ui"}, "PLANNR_MCP_NO_UI": nil} {
		t.Run(name, func(t *testing.T) {
			env := fakeEnv(t, url)
			if args == nil {
				env = append(env, "PLANNR_MCP_NO_UI=true")
			}
			withoutUI, _ := connectStdio(t, env, "2026-07-28", args...)
			off := inspectUI(t, withoutUI)
			if off.extension || off.resourceURI != "" || off.listed || off.page != "" || off.resultMeta["plannr-mcp/tools"] != nil {
				t.Errorf("without the UI: extension %v, resourceUri %q, listed %v, page %d bytes, result _meta %v; want none", off.extension, off.resourceURI, off.listed, len(off.page), off.resultMeta)
			}
			if strings.Contains(off.description, "dashboard") || strings.Contains(off.prompt, "dashboard") {
				t.Errorf("the description or prompt mentions a dashboard that is not served:\n%s\n%s", off.description, off.prompt)
			}
			if off.text != on.text || off.structured != on.structured {
				t.Errorf("the list result differs with the UI turned off:\n%s\n%s\nvs\n%s\n%s", on.text, on.structured, off.text, off.structured)
			}
		})
	}
}
