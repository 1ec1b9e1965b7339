#!/usr/bin/env bash
# `pnpm test:setup`: installs the Debian packages `pnpm test` uses that are missing (one list, here; .ci/run
# runs the same command). Needs root only when something is missing.
set -euo pipefail

# Every program the tests start, by the Debian package that ships it:
debs=(
  iproute2        # ip, ss: namespaces, links, routes; the independent check of every netlink change
  tshark          # independent decoder of packets and captures
  tcpdump         # watches the TUN for ICMP errors
  dante-server    # danted: the real SOCKS5 peer (no auth and username/password)
  dnsmasq         # the real DNS server behind the tunnel
  openssh-server openssh-client  # sshd + `ssh -D`: a real CONNECT-only SOCKS5 proxy (no UDP ASSOCIATE)
  iperf3          # TCP through a TUN reflector with checksum offload
  curl            # HTTP clients through the tunnel
  dnsutils        # dig
  iputils-ping    # ping, ping -6
  python3 make g++ gcc  # node-gyp builds the tun-linux addon; cc/gcc compile the Windows stand-in library
  strace          # widens the CLI lock test's race window (fault injection on open)
  mount           # private mount namespaces give danted a test user (testkit spawnWithBindMounts)
  util-linux      # unshare, setpriv
  bsdutils        # script: a pseudo-terminal for the CLI's live status line
  perl-base       # crypt() for the test user's password hash
  file g++-aarch64-linux-gnu qemu-user  # the tun-linux prebuilds (x64, cross arm64) and loading arm64 in CI's pack-install step
  wine64 gcc-mingw-w64-x86-64  # CI's Wine step: tun-windows' tests on Windows Node (scripts/ci/wine-tests.sh)
)

missing=()
for d in "${debs[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$d" 2>/dev/null || true)" = installed ] || missing+=("$d")
done
install_debs() {
  if [ ${#missing[@]} -eq 0 ]; then
    echo "test:setup: all ${#debs[@]} Debian packages the tests use are installed"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test:setup: no apt-get here (the tests expect Debian or Ubuntu); install yourself: ${missing[*]}" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "test:setup: installing ${missing[*]} needs root: run it as root (e.g. sudo pnpm test:setup)" >&2
    exit 1
  fi
  echo "test:setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "test:setup: installed ${#missing[@]} Debian package(s)"
}
install_debs

# The Node binaries tun-linux's node-majors test runs the splice hand-over on (20, 22, 24), from npm.
node "$(dirname "$0")/../packages/tun-linux/scripts/install-node-majors.mjs"
