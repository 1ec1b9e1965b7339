#!/usr/bin/env bash
# `pnpm test:macos`: what only a Mac can check (issue 13 item 5). It has NOT run yet: nobody working on ztun
# has had a Mac; CI and every other test run on Linux, where the macOS composition runs against
# @ztun/testkit's simulated XNU instead. Run it on macOS (Apple silicon or Intel) with Node 20.19+ and pnpm:
#   pnpm install && pnpm test:macos        (asks for sudo: utun and route changes need root)
# It builds, runs the real-syscall tests that skip off macOS (test/os-gated.json "macOS-only"), then
# apps/cli/scripts/macos-smoke.mjs: `ztun run --route` with a local SOCKS5 and HTTP server reached through
# the utun, ping, SIGTERM, cleanup. Each step prints what it verified; the first failure stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(uname -s)" = Darwin ] || { echo "test-macos: this is $(uname -s); run it on a Mac" >&2; exit 2; }
echo "test-macos: building"
pnpm turbo run build --output-logs=errors-only
echo "test-macos: real-syscall tests (root: utun, route socket, IP_BOUND_IF)"
sudo env PATH="$PATH" npx vitest run \
  packages/tun-darwin/test/darwin.test.ts \
  packages/routing-darwin/test/darwin.test.ts \
  packages/tun-darwin/test/poll-engine.test.ts
echo "test-macos: ztun run smoke test"
sudo env PATH="$PATH" node apps/cli/scripts/macos-smoke.mjs
echo "test-macos: OK — please paste this output into issue 13 so the READMEs' macOS rows can say what ran"
