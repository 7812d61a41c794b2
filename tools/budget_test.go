package tools

import (
	"context"
	"encoding/json"
	"testing"
)

// toolsListBudget bounds the whole tools/list answer, every tool enabled,
// as compact JSON. Each tool's name, description and schemas cost the model
// context on every turn, so this is a budget to defend, not to raise
// casually. Set at 12 KiB for four tools (11,155 bytes); raised to 14 KiB
// for the fifth, reauthorize_oauth_connection, and the dashboard's _meta:
// 13,380 bytes then, the output schemas being most of it (clients rarely
// show a model those).
const toolsListBudget = 14 * 1024

// modelFacingBudget bounds what most clients pass to the model for each
// tool: its name, description and input schema, for every tool. Measured at
// 3,532 bytes when it was set, 4,028 with five tools.
const modelFacingBudget = 4 * 1024

// TestToolsListStaysSmall measures the exact tools/list answer the server
// sends and holds it under the budgets above.
func TestToolsListStaysSmall(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"every tool", Options{EnableDelete: true}},
		{"default", Options{}},
		{"read-only", Options{ReadOnly: true}},
	}
	var full int
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewToolset(nil, tt.opts).NewServer(ServerConfig{Version: "test"})
			ctx := context.Background()
			s.HandleMessage(ctx, []byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
			reply := s.HandleMessage(ctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
			raw, err := json.Marshal(reply)
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Result struct {
					Tools []map[string]json.RawMessage `json:"tools"`
				} `json:"result"`
			}
			if err := json.Unmarshal(raw, &resp); err != nil || len(resp.Result.Tools) == 0 {
				t.Fatalf("tools/list answer: %v %s", err, raw)
			}
			facing := 0
			for _, tool := range resp.Result.Tools {
				facing += len(tool["name"]) + len(tool["description"]) + len(tool["inputSchema"])
			}
			t.Logf("%s: %d tools, tools/list answer %d bytes, name+description+input schema %d bytes",
				tt.name, len(resp.Result.Tools), len(raw), facing)
			if len(raw) > toolsListBudget {
				t.Errorf("tools/list is %d bytes; budget %d", len(raw), toolsListBudget)
			}
			if facing > modelFacingBudget {
				t.Errorf("model-facing part is %d bytes; budget %d", facing, modelFacingBudget)
			}
			if tt.name == "every tool" {
				full = len(raw)
			} else if full > 0 && len(raw) >= full {
				t.Errorf("%s answer (%d bytes) is not smaller than with every tool (%d)", tt.name, len(raw), full)
			}
		})
	}
}
