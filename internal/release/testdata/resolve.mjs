// Resolves a bundle's mcp_config the way MCPB hosts built on the official
// library do (getMcpConfigForManifest of @anthropic-ai/mcpb), so that the Go
// tests can check their own resolution against it.
//
// Reads {"manifest", "extensionPath", "userConfig"} as JSON on stdin and
// prints the resolved {"command", "args", "env"}, or null when the host
// would not start the server (a required option is unset).
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";
import { sep } from "node:path";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { manifest, extensionPath, userConfig } = JSON.parse(input);
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath,
  systemDirs: {},
  userConfig,
  pathSeparator: sep,
});
process.stdout.write(JSON.stringify(config ?? null));
