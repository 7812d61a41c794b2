#!/usr/bin/env bash
# Rebuilds dist/dashboard.html with the pinned toolchain, twice, and fails if
# the two builds differ or if the result differs from the committed file.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
npm run --silent typecheck
npm run --silent build
first=$(sha256sum dist/dashboard.html)
npm run --silent build
second=$(sha256sum dist/dashboard.html)
if [ "$first" != "$second" ]; then
  echo "the build is not deterministic: two builds gave different bytes" >&2
  exit 1
fi
if [ -n "$(git status --porcelain -- dist)" ]; then
  git status --short -- dist >&2
  git diff --stat -- dist >&2
  echo "dist/dashboard.html is not the committed build of src/: rebuild it (npm run build) and commit it" >&2
  exit 1
fi
echo "dist/dashboard.html is up to date ($(wc -c < dist/dashboard.html) bytes)"
