#!/usr/bin/env bash
# Installs what netkube needs on a fresh Debian 12 machine (as root): the Debian packages
# that are missing, the npm dependencies (npm ci) and the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Under CI=true everything the tests need must be here: a part that did not build or install
# fails setup (with its build log) instead of leaving the tests to skip. Outside CI it is a
# warning; the code falls back and the tests that need the part skip (test/helpers/prereq.ts),
# listed by name in scripts/test.sh's closing summary.
ci() { [ "${CI:-}" = true ]; }
not_provided() { # WHAT [LOG]
  echo "setup: $1" >&2
  [ -n "${2:-}" ] && [ -s "$2" ] && tail -n 30 "$2" | sed 's/^/  | /' >&2
  if ci; then
    echo "setup: CI=true: the tests need it; failing" >&2
    exit 1
  fi
}

# command -> Debian package
declare -A NEED=(
  [etcd]=etcd-server [etcdctl]=etcd-client [nft]=nftables [iptables]=iptables [ip]=iproute2
  [dig]=bind9-dnsutils [dnsperf]=dnsperf [iperf3]=iperf3 [conntrack]=conntrack [socat]=socat
  [tcpdump]=tcpdump [busybox]=busybox-static [podman]=podman [runc]=runc [openssl]=openssl
  [dnsmasq]=dnsmasq-base [nsenter]=util-linux [ping]=iputils-ping [setpriv]=util-linux
  # kubectl exec -it under a pseudo-terminal (test/kubectl/streams.test.ts)
  [script]=bsdutils
  # clients in the lab's outside namespace (curl, openssl, nc)
  [curl]=curl [nc]=netcat-openbsd
  # bench:dns's peers: the authoritative servers it runs beside netkube's DNS
  [nsd]=nsd [nsd-control]=nsd [knotd]=knot [knotc]=knot
  # the ingress data plane (HAProxy) and bench:ingress's peers (nginx by hand, wrk)
  [haproxy]=haproxy [nginx]=nginx [wrk]=wrk
  # the setns addon (node-gyp) and the CNI shim are compiled here
  [cc]=gcc [g++]=g++ [make]=make [python3]=python3
  # the live map's browser test (test/e2e/ui.test.ts): headless Chromium driven by playwright-core
  [chromium]=chromium
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
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || not_provided "$cmd not found after installing ${NEED[$cmd]} (is it on PATH?)"
done

# kubectl is the machine's own (a dispatcher over bundled clients; Debian's kubernetes-client
# conflicts with it), so it is checked, not installed. The clients the tests drive:
KUBECTL_VERSIONS=(1.27 1.33)
command -v kubectl >/dev/null 2>&1 || not_provided "kubectl (the version dispatcher) is not on PATH"
for v in "${KUBECTL_VERSIONS[@]}"; do
  [ -x "/usr/lib/google-cloud-sdk/bin/kubectl.$v" ] || not_provided "kubectl $v (/usr/lib/google-cloud-sdk/bin/kubectl.$v) is missing"
done

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.netkube-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# Native parts: a build's output goes to $log, shown when it fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
gyp_rebuild() {
  local gyp
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  node "$gyp" rebuild --nodedir="$(npm config get nodedir 2>/dev/null || echo /usr)"
}

# The setns addon (src/net/native): lets src/net open netlink sockets inside other network
# namespaces. Optional: without it src/net falls back to `ip -n`/nsenter.
if [ ! -f src/net/native/build/Release/netkube_setns.node ] || [ src/net/native/setns.c -nt src/net/native/build/Release/netkube_setns.node ]; then
  echo "setup: build setns addon"
  (cd src/net/native && gyp_rebuild >"$log" 2>&1) \
    || not_provided "setns addon not built (falling back to ip/nsenter)" "$log"
fi

# The DNS batched-UDP addon (src/dns/native): recvmmsg/sendmmsg for the DNS server's UDP socket.
# Optional: without it (or with NETKUBE_DNS_NO_MMSG=1) the server uses Node's dgram path.
if [ ! -f src/dns/native/build/Release/netkube_mmsg.node ] || [ src/dns/native/mmsg.c -nt src/dns/native/build/Release/netkube_mmsg.node ]; then
  echo "setup: build dns mmsg addon"
  (cd src/dns/native && gyp_rebuild >"$log" 2>&1) \
    || not_provided "dns mmsg addon not built (the DNS server uses dgram)" "$log"
fi

# The CNI shim (cni/native): the small C executable runtimes exec as `netkube`; it forwards to
# the node agent's socket. Optional: without it the plugin is a Node launcher.
if [ ! -x cni/native/build/netkube-shim ] || [ cni/native/shim.c -nt cni/native/build/netkube-shim ]; then
  echo "setup: build CNI shim"
  mkdir -p cni/native/build
  cc -O2 -Wall -o cni/native/build/netkube-shim cni/native/shim.c >"$log" 2>&1 \
    || not_provided "CNI shim not built (the plugin runs as a Node launcher)" "$log"
fi

echo "setup: build"
npx tsc -p tsconfig.json
chmod +x dist/src/cli/main.js
