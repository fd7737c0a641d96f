#!/usr/bin/env bash
# Installs what netkube needs on a fresh Debian 12 machine (as root): the Debian packages
# that are missing, the npm dependencies (npm ci) and the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A NEED=(
  [etcd]=etcd-server [etcdctl]=etcd-client [nft]=nftables [iptables]=iptables [ip]=iproute2
  [dig]=bind9-dnsutils [dnsperf]=dnsperf [iperf3]=iperf3 [conntrack]=conntrack [socat]=socat
  [tcpdump]=tcpdump [busybox]=busybox-static [podman]=podman [runc]=runc [openssl]=openssl
  [dnsmasq]=dnsmasq-base [nsenter]=util-linux [ping]=iputils-ping [setpriv]=util-linux
  # bench:dns's peers: the authoritative servers it runs beside netkube's DNS
  [nsd]=nsd [nsd-control]=nsd [knotd]=knot [knotc]=knot
  # the setns addon (node-gyp) and the CNI shim are compiled here
  [cc]=gcc [g++]=g++ [make]=make [python3]=python3
)
missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${NEED[$cmd]}")
done
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.netkube-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# The setns addon (src/net/native): lets src/net open netlink sockets inside other network
# namespaces. Optional: without it src/net falls back to `ip -n`/nsenter.
if [ ! -f src/net/native/build/Release/netkube_setns.node ] || [ src/net/native/setns.c -nt src/net/native/build/Release/netkube_setns.node ]; then
  echo "setup: build setns addon"
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  (cd src/net/native && node "$gyp" rebuild --nodedir="$(npm config get nodedir 2>/dev/null || echo /usr)" >/dev/null 2>&1) \
    || echo "setup: setns addon not built (falling back to ip/nsenter)" >&2
fi

# The DNS batched-UDP addon (src/dns/native): recvmmsg/sendmmsg for the DNS server's UDP socket.
# Optional: without it (or with NETKUBE_DNS_NO_MMSG=1) the server uses Node's dgram path.
if [ ! -f src/dns/native/build/Release/netkube_mmsg.node ] || [ src/dns/native/mmsg.c -nt src/dns/native/build/Release/netkube_mmsg.node ]; then
  echo "setup: build dns mmsg addon"
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  (cd src/dns/native && node "$gyp" rebuild --nodedir="$(npm config get nodedir 2>/dev/null || echo /usr)" >/dev/null 2>&1) \
    || echo "setup: dns mmsg addon not built (the DNS server uses dgram)" >&2
fi

# The CNI shim (cni/native): the small C executable runtimes exec as `netkube`; it forwards to
# the node agent's socket. Optional: without it the plugin is a Node launcher.
if [ ! -x cni/native/build/netkube-shim ] || [ cni/native/shim.c -nt cni/native/build/netkube-shim ]; then
  echo "setup: build CNI shim"
  mkdir -p cni/native/build
  cc -O2 -Wall -o cni/native/build/netkube-shim cni/native/shim.c \
    || echo "setup: CNI shim not built (the plugin runs as a Node launcher)" >&2
fi

echo "setup: build"
npx tsc -p tsconfig.json
chmod +x dist/src/cli/main.js
