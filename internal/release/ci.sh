#!/usr/bin/env bash
# Release checks, for .ci/run: build every release target twice and compare
# the two builds byte for byte, hand the bundle to the official mcpb command,
# run the release tests on the full release (server.json against the MCP
# Registry's schema, the bundle started as its manifest says), and vet the
# code for Windows and macOS. Needs Go, Node 20 or later and npm; network
# only to the npm registry and the Go module proxy, and only when their
# caches are cold.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec </dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dist="$work/dist"
version=v0.0.0-ci
bundle="$dist/plannr-mcp_${version#v}.mcpb"

echo "--- release: npm ci (the official mcpb command, pinned in internal/release/package.json)"
command -v node >/dev/null && command -v npm >/dev/null || { echo "the release checks need node and npm"; exit 1; }
(cd internal/release && npm ci --no-audit --no-fund)
mcpb() { internal/release/node_modules/.bin/mcpb "$@"; }
echo "mcpb $(mcpb --version)"

echo "--- release: all six targets, built twice and compared"
go run ./internal/release -version "$version" -out "$dist" -check-reproducible

echo "--- release: checksums"
if command -v sha256sum >/dev/null; then
  (cd "$dist" && sha256sum -c SHA256SUMS)
else
  (cd "$dist" && shasum -a 256 -c SHA256SUMS)
fi

echo "--- release: the bundle through the official mcpb command (unpack, validate, info, pack)"
mcpb unpack "$bundle" "$work/unpacked"
mcpb validate "$work/unpacked/manifest.json"
mcpb info "$bundle"
mcpb pack "$work/unpacked" "$work/mcpb-pack.mcpb"

echo "--- release: tests on the full release too"
CI=true PLANNR_RELEASE_DIST="$dist" go test -count=1 ./internal/release

echo "--- release: go vet for windows and darwin"
GOOS=windows go vet ./...
GOOS=darwin go vet ./...
