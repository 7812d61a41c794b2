package tools

import (
	"context"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plannr-mcp/plannr-mcp/tools/ui"
)

// The connection-health dashboard is an MCP App (extension
// io.modelcontextprotocol/ui, version 2026-01-26): list_oauth_connections
// names it in its _meta.ui.resourceUri, and a host that supports the
// extension reads it with resources/read and shows it next to the result.
// Other hosts ignore the link and get the same text and structured result.
const (
	// DashboardURI is the dashboard's resource.
	DashboardURI = "ui://plannr-mcp/dashboard.html"
	// AppsExtension is the MCP Apps extension's identifier.
	AppsExtension = "io.modelcontextprotocol/ui"
	// appMIMEType is the MIME type of an MCP App's HTML.
	appMIMEType = "text/html;profile=mcp-app"
	// servedToolsKey is the _meta key of a list result naming the tools this
	// server serves, so that the dashboard offers only the actions it can do.
	servedToolsKey = "plannr-mcp/tools"
)

// uiEnabled reports whether the dashboard is served: it shows the list
// tool's results, so it is served only with that tool.
func (t *Toolset) uiEnabled() bool {
	return !t.opts.NoUI && t.has(ListToolName)
}

// linkDashboard names the dashboard in the list tool's _meta.ui and has
// every list result name the tools served, when the dashboard is served.
func (t *Toolset) linkDashboard() {
	if !t.uiEnabled() {
		return
	}
	i := slices.IndexFunc(t.tools, func(tool Tool) bool { return tool.Definition.Name == ListToolName })
	list := &t.tools[i]
	list.Definition.Meta = mcp.NewMetaFromMap(map[string]any{"ui": map[string]any{"resourceUri": DashboardURI}})
	next := list.Handler
	list.Handler = func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res, err := next(ctx, req)
		if res != nil {
			if res.Meta == nil {
				res.Meta = &mcp.Meta{}
			}
			if res.Meta.AdditionalFields == nil {
				res.Meta.AdditionalFields = map[string]any{}
			}
			res.Meta.AdditionalFields[servedToolsKey] = t.servedToolNames()
		}
		return res, err
	}
}

func (t *Toolset) servedToolNames() []string {
	names := make([]string, len(t.tools))
	for i, tool := range t.tools {
		names[i] = tool.Definition.Name
	}
	return names
}

// uiServerOptions declares the extension in the server's capabilities and
// keeps the dashboard out of resources/list: hosts find it through the
// tool, as the extension intends, and clients that offer listed resources
// as context to attach should not offer a page of HTML.
func uiServerOptions() []server.ServerOption {
	hooks := &server.Hooks{}
	hooks.AddAfterListResources(func(_ context.Context, _ any, _ *mcp.ListResourcesRequest, res *mcp.ListResourcesResult) {
		kept := res.Resources[:0]
		for _, r := range res.Resources {
			if r.URI != DashboardURI {
				kept = append(kept, r)
			}
		}
		res.Resources = kept
	})
	return []server.ServerOption{
		server.WithExtensions(map[string]any{AppsExtension: map[string]any{"mimeTypes": []string{appMIMEType}}}),
		server.WithHooks(hooks),
	}
}

// dashboardResource serves the dashboard. Its _meta.ui declares an empty
// CSP: the page loads nothing and connects nowhere, so a host grants it no
// origin at all.
func dashboardResource() server.ServerResource {
	return server.ServerResource{
		Resource: mcp.NewResource(DashboardURI, "oauth_connection_dashboard",
			mcp.WithResourceTitle("Plannr OAuth connection health dashboard"),
			mcp.WithResourceDescription("Interactive view of list_oauth_connections' results, for hosts that support MCP Apps."),
			mcp.WithMIMEType(appMIMEType),
		),
		Handler: func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{
				URI:      DashboardURI,
				MIMEType: appMIMEType,
				Text:     ui.DashboardHTML(),
				Meta: map[string]any{"ui": map[string]any{
					"csp":           map[string]any{},
					"prefersBorder": true,
				}},
			}}, nil
		},
	}
}
