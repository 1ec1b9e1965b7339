#!/usr/bin/env bash
# `npm i ztun` on macOS and Windows, tried from Linux: every publishable package packed (pack-tarballs.mjs),
# then installed into an empty project with `npm install --os=darwin --cpu=arm64` and `--os=win32 --cpu=x64`
# (install scripts on), every @ztun name pointed at its tarball through `overrides` (nothing is on the
# registry yet). npm must skip ztun's Linux-only optionalDependencies (@ztun/tun-linux, @ztun/routing-linux),
# so no Linux addon is built or shipped there; `import('ztun')` and `require('ztun')` must load with
# process.dlopen refusing every native addon; and `ztun run` (this host is Linux, so the CLI picks its Linux
# platform) must refuse with the one line naming the missing OS package.
#
# Usage: bash scripts/ci/cross-os-install.sh   (root not needed; CROSS_OS_KEEP=1 keeps the temp dir)
# Needs: node, npm, pnpm; the tun-linux prebuilds (built here as pack-install.sh does when missing); the npm
# registry for third-party dependencies (koffi, commander, …).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/ztun-cross-os.XXXXXX)
cleanup() {
  if [ "${CROSS_OS_KEEP:-}" = 1 ]; then echo "cross-os: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
step() { echo "cross-os: $*"; }
fail() {
  echo "cross-os: FAIL: $*" >&2
  exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND exited $?"' ERR

step "building every package"
pnpm turbo run build --output-logs=errors-only >/dev/null
if ! node packages/tun-linux/scripts/check-prebuilds.mjs >/dev/null 2>&1; then
  step "building the tun-linux prebuilds (pack-tarballs.mjs checks the tarball carries them)"
  pnpm --filter @ztun/tun-linux build:prebuilds >"$work/prebuilds.log" 2>&1 || {
    tail -20 "$work/prebuilds.log"
    fail "pnpm --filter @ztun/tun-linux build:prebuilds"
  }
fi
step "packing"
node scripts/ci/pack-tarballs.mjs "$work/packs" >"$work/pack.log" 2>&1 || {
  cat "$work/pack.log"
  fail "pack-tarballs.mjs"
}
mapfile -t tarballs < <(cat "$work/packs/installable.txt" "$work/packs/foreign.txt" | grep .)

# A guard loaded before the app: any native addon load (process.dlopen backs require of .node files and
# node-gyp-build) is recorded and refused, so an import that needs one fails and names it.
cat >"$work/no-addons.cjs" <<'GUARD'
process.dlopen = (module, filename) => {
  throw new Error(`cross-os: a native addon was loaded: ${filename}`);
};
GUARD

for target in linux/x64 darwin/arm64 win32/x64; do
  os=${target%/*}
  cpu=${target#*/}
  app="$work/app-$os-$cpu"
  mkdir -p "$app"
  # `npm i ztun` in an empty project, every @ztun name pointed at its tarball (ztun's dependencies too).
  node -e '
    const { execFileSync } = require("node:child_process");
    const overrides = {};
    for (const t of process.argv.slice(1)) {
      const m = JSON.parse(execFileSync("tar", ["-xzOf", t, "package/package.json"], { encoding: "utf8" }));
      overrides[m.name] = `file:${t}`;
    }
    const dependencies = { ztun: overrides.ztun };
    console.log(JSON.stringify({ name: "cross-os-app", private: true, type: "module", dependencies, overrides }));
  ' "${tarballs[@]}" >"$app/package.json"
  step "npm install --os=$os --cpu=$cpu ztun"
  (cd "$app" && npm install --os="$os" --cpu="$cpu" --no-audit --no-fund --loglevel=error >"$app/install.log" 2>&1) || {
    tail -20 "$app/install.log"
    fail "npm install --os=$os --cpu=$cpu"
  }
  # @ztun/tun-windows (os: win32, no native build) comes with ztun on Windows only.
  if [ "$os" = win32 ]; then
    [ -e "$app/node_modules/@ztun/tun-windows/package.json" ] || fail "npm left @ztun/tun-windows out for win32"
  else
    [ ! -e "$app/node_modules/@ztun/tun-windows" ] || fail "npm installed @ztun/tun-windows for $os/$cpu"
  fi
  if [ "$os" = linux ]; then
    # The control: for Linux the same project does get the OS packages, so the checks below can fail.
    for linux_only in @ztun/tun-linux @ztun/routing-linux; do
      [ -e "$app/node_modules/$linux_only/package.json" ] || fail "npm left $linux_only out for linux/x64"
    done
    step "linux/x64 (control): @ztun/tun-linux and @ztun/routing-linux installed from their tarballs"
    continue
  fi
  for linux_only in @ztun/tun-linux @ztun/routing-linux; do
    [ ! -e "$app/node_modules/$linux_only" ] || fail "npm installed $linux_only for $os/$cpu"
  done
  [ -d "$app/node_modules/ztun/dist" ] || fail "ztun is not installed for $os/$cpu"
  addons=$(find "$app/node_modules/@ztun" "$app/node_modules/ztun" \( -name '*.node' -o -name build -o -name prebuilds \) -print)
  [ -z "$addons" ] || fail "native code in the $os/$cpu install: $addons"
  step "$os/$cpu: no @ztun/tun-linux, no @ztun/routing-linux, no .node/build/prebuilds under @ztun or ztun"

  (cd "$app" && node --require "$work/no-addons.cjs" --input-type=module -e '
    const m = await import("ztun");
    if (typeof m.main !== "function" || typeof m.createTunnel !== "function") throw new Error("ztun exports are missing");
    // The library entry refuses the same way the CLI does: ready rejects with one line, nothing started.
    const refused = await m.createTunnel({}).ready.then(() => "started", (e) => `${e.name}: ${e.message}`);
    if (!/^RunRefused: ztun run on linux needs @ztun\/(tun|routing)-linux /.test(refused)) throw new Error(`createTunnel: ${refused}`);
    const { createRequire } = await import("node:module");
    const c = createRequire(`${process.cwd()}/`)("ztun");
    if (typeof c.main !== "function") throw new Error("require(\"ztun\") has no main");
  ') || fail "import('ztun') in the $os/$cpu install"
  step "$os/$cpu: import('ztun') and require('ztun') load with every native addon refused; createTunnel refuses in one line"

  # This host is Linux, so the CLI selects its Linux platform, whose packages npm left out: one line, exit 2.
  code=0
  (cd "$app" && node --require "$work/no-addons.cjs" node_modules/ztun/dist/bin.js run) >"$app/run.txt" 2>&1 || code=$?
  expected='^ztun: ztun run on linux needs @ztun/(tun|routing)-linux \(an optional dependency of ztun\), which is not installed: npm install @ztun/tun-linux @ztun/routing-linux$'
  if [ "$code" -ne 2 ] || ! grep -qE "$expected" "$app/run.txt" || [ "$(grep -c . "$app/run.txt")" -ne 1 ]; then
    fail "ztun run without the Linux packages exited $code and printed: $(cat "$app/run.txt")"
  fi
  step "$os/$cpu: ztun run without the Linux packages: exit 2, $(cat "$app/run.txt")"
done
echo "cross-os: OK: ztun installs and imports for darwin/arm64 and win32/x64 with no Linux native code"
