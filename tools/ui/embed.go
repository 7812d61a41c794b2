// Package ui holds the connection-health dashboard, an MCP App page: its
// sources in src/ are built by build.mjs into the self-contained
// dist/dashboard.html, which is committed so that building the server never
// needs Node. check.sh rebuilds it and fails if the committed file is stale.
package ui

import _ "embed"

//go:embed dist/dashboard.html
var dashboard string

// DashboardHTML returns the dashboard page: one HTML file holding its own
// script and style, which loads nothing from the network.
func DashboardHTML() string { return dashboard }
