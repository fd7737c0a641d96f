#!/usr/bin/env bash
# Provisions one netkube VM: Node 20, netkube's own setup (Debian packages, npm ci, build),
# then systemd units for the server (node1) and the agent (every node). With HA=1 (the
# Vagrantfile's NETKUBE_HA=1): an etcd member unit on node1..3 (one static 3-member cluster)
# and the server on node1 and node2, sharing the PKI the Vagrantfile made in vagrant/.pki.
set -euo pipefail
: "${NODE_NAME:?}" "${NODE_IP:?}" "${SERVER_IP:?}" "${ROLE:?}"
PROXY_MODE=${PROXY_MODE:-nftables}
BACKEND=${BACKEND:-vxlan}
HA=${HA:-0}
ETCD_MEMBER=${ETCD_MEMBER:-0}
ETCD_ENDPOINTS=${ETCD_ENDPOINTS:-http://$SERVER_IP:2379}
API_SERVERS=${API_SERVERS:-https://$SERVER_IP:6443}

export DEBIAN_FRONTEND=noninteractive
# A box from vagrant/box/build.sh has everything below: then nothing is fetched. Otherwise apt
# (through the lab's package relay when APT_PROXY is set: the VMs may have no uplink).
if [ -n "${APT_PROXY:-}" ]; then echo "Acquire::http::Proxy \"$APT_PROXY\";" > /etc/apt/apt.conf.d/01netkube-proxy; fi
PKGS=(ca-certificates curl openssl rsync nftables iptables ipset ipvsadm conntrack etcd-server etcd-client busybox-static bind9-dnsutils socat)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! node --version 2>/dev/null | grep -q '^v20'; then
  apt-get install -y -qq --no-install-recommends npm
  npm install -g n >/dev/null && n 20 >/dev/null
  hash -r
fi
# IPVS mode: the kernel modules ship with Debian's kernel.
if [ "$PROXY_MODE" = ipvs ]; then modprobe -a ip_vs ip_vs_rr; fi

cd /netkube
# A build synced from the host (NETKUBE_SYNC_BUILD=1) is used as it is: tsc and npm never run
# under an emulated CPU. Otherwise netkube's own setup builds it here.
if [ ! -x dist/src/cli/main.js ] || [ ! -d node_modules ]; then bash scripts/setup.sh; fi
ln -sf /netkube/dist/src/cli/main.js /usr/local/bin/netkube
STATE=/var/lib/netkube
mkdir -p "$STATE"

# unit NAME DESCRIPTION AFTER EXECSTART [EXTRA-SERVICE-LINE]: a Restart=always unit, enabled and started.
unit() {
  cat > "/etc/systemd/system/$1.service" <<UNIT
[Unit]
Description=$2
After=$3
# restarted for as long as it fails (an agent waits so for its join), never given up on
StartLimitIntervalSec=0
[Service]
ExecStart=$4
Restart=always
RestartSec=2
${5:-}
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now "$1"
}

if [ "$ETCD_MEMBER" = 1 ]; then
  : "${ETCD_INITIAL_CLUSTER:?}"
  # Debian's own etcd unit would hold 2379 on loopback: this member replaces it.
  systemctl disable --now etcd 2>/dev/null || true
  unit netkube-etcd "etcd member $NODE_NAME of netkube's 3-member cluster" network-online.target \
    "/usr/bin/etcd --name $NODE_NAME --data-dir $STATE/etcd --listen-client-urls http://$NODE_IP:2379,http://127.0.0.1:2379 --advertise-client-urls http://$NODE_IP:2379 --listen-peer-urls http://$NODE_IP:2380 --initial-advertise-peer-urls http://$NODE_IP:2380 --initial-cluster $ETCD_INITIAL_CLUSTER --initial-cluster-state new --initial-cluster-token netkube-vagrant --auto-compaction-mode periodic --auto-compaction-retention 1h"
fi

if [ "$ROLE" = server ]; then
  mkdir -p "$STATE/server"
  # The cluster CA from the Vagrantfile (copied before the first start, as kubeadm's copy-certs does).
  install -d -m 700 "$STATE/server/pki"
  [ -f "$STATE/server/pki/ca.key" ] || install -m 600 /netkube/vagrant/.pki/ca.key /netkube/vagrant/.pki/ca.crt "$STATE/server/pki/"
  if [ "$HA" = 1 ]; then
    # One token file for every apiserver; etcd is the cluster above; the DNS add-on reaches the
    # API through the kubernetes Service so both servers want the same Deployment.
    [ -f "$STATE/server/tokens.csv" ] || install -m 600 /netkube/vagrant/.pki/tokens.csv "$STATE/server/tokens.csv"
    ETCD_FLAGS="--etcd-servers $ETCD_ENDPOINTS --dns-kubeconfig $STATE/server/dns.kubeconfig --dns-api-server https://10.96.0.1:443"
  else
    ETCD_FLAGS="--etcd-listen $NODE_IP"
  fi
  # kube-proxy's and the network loops' token identities (the Vagrantfile's component-tokens.csv).
  unit netkube-server "netkube server (etcd, apiserver, controllers, scheduler)" "network-online.target netkube-etcd.service" \
    "/usr/local/bin/netkube server --state-dir $STATE/server --bind-address 0.0.0.0 --advertise-address $NODE_IP $ETCD_FLAGS --extra-token-file /netkube/vagrant/.pki/component-tokens.csv --load-balancer-pools default=${LB_POOL:-192.168.56.200-192.168.56.250}"
fi

# The node's identities. The kubelet joins as `kubeadm join` does: the bootstrap token, the
# cluster CA pinned by its hash, a CSR for system:node:<name>; its kubeconfig then holds its
# own certificate. kube-proxy (system:kube-proxy) and the network loops
# (system:netkube:agent:<name>) use the tokens the apiserver trusts from the Vagrantfile's
# component-tokens.csv. No node holds the admin credentials.
: "${TOKEN:?}" "${CA_CERT_HASH:?}" "${PROXY_TOKEN:?}" "${NETWORK_TOKEN:?}"
CA=/netkube/vagrant/.pki/ca.crt
ca_hash="sha256:$(openssl x509 -in "$CA" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -hex | sed 's/^.*= //')"
if [ "$ca_hash" != "$CA_CERT_HASH" ]; then
  echo "the cluster CA's public key hash is $ca_hash, not the pinned $CA_CERT_HASH: refusing to join" >&2
  exit 1
fi
token_kubeconfig() { # NAME USER TOKEN
  cat > "$STATE/$1.kubeconfig" <<KCFG
{"apiVersion":"v1","kind":"Config",
 "clusters":[{"name":"netkube","cluster":{"server":"https://$SERVER_IP:6443","certificate-authority-data":"$(base64 -w0 "$CA")"}}],
 "users":[{"name":"$2","user":{"token":"$3"}}],
 "contexts":[{"name":"$1@netkube","context":{"cluster":"netkube","user":"$2"}}],
 "current-context":"$1@netkube"}
KCFG
  chmod 600 "$STATE/$1.kubeconfig"
}
token_kubeconfig proxy system:kube-proxy "$PROXY_TOKEN"
token_kubeconfig network "system:netkube:agent:$NODE_NAME" "$NETWORK_TOKEN"
# HA: node1's apiserver is ready only once a second etcd member is up, and VMs provision one
# after another, so don't wait here: systemd restarts the agent until the API answers.
if [ "$HA" != 1 ]; then
  until curl -sf --cacert "$CA" "https://$SERVER_IP:6443/readyz" >/dev/null; do echo "waiting for the apiserver on $SERVER_IP…"; sleep 3; done
fi
# The server VM creates the lab's bootstrap token (kubeadm's `token create [token]`), once.
if [ "$ROLE" = server ]; then
  ADMIN="$STATE/server/admin.kubeconfig"
  until [ -s "$ADMIN" ] && netkube token list --kubeconfig "$ADMIN" >"$STATE/tokens.list" 2>/dev/null; do echo "waiting for the server's admin kubeconfig…"; sleep 3; done
  if ! grep -q "^$TOKEN " "$STATE/tokens.list"; then
    echo "join command: $(netkube token create "$TOKEN" --description 'the Vagrant lab (vagrant/Vagrantfile)' --print-join-command --kubeconfig "$ADMIN")"
  fi
fi
# The kubelet's serving certificate from the cluster CA, in its default --cert-dir; the
# apiserver (which verifies kubelets against that CA) is its only allowed caller.
KPKI="$STATE/agent/kubelet/pki"
if [ ! -f "$KPKI/kubelet.crt" ]; then
  install -d -m 700 "$KPKI"
  openssl ecparam -name prime256v1 -genkey -noout -out "$KPKI/kubelet.key"
  openssl req -new -key "$KPKI/kubelet.key" -subj "/O=system:nodes/CN=system:node:$NODE_NAME" -out "$KPKI/kubelet.csr"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,IP:%s\n' "$NODE_NAME" "$NODE_IP" > "$KPKI/kubelet.ext"
  openssl x509 -req -in "$KPKI/kubelet.csr" -CA /netkube/vagrant/.pki/ca.crt -CAkey /netkube/vagrant/.pki/ca.key -CAcreateserial -CAserial "$KPKI/ca.srl" -days 3650 -sha256 -extfile "$KPKI/kubelet.ext" -out "$KPKI/kubelet.crt"
fi
# The kubelet checks the apiserver's client certificate against the same CA.
CLIENT_CA_FLAGS="--client-ca-file $CA"
# Every apiserver when the agent's client can fail over between them (its usage lists the flag).
API_FLAGS=""
AGENT_USAGE=$(netkube agent 2>&1 || true)
if [ "$HA" = 1 ] && [[ $AGENT_USAGE == *--api-servers* ]]; then API_FLAGS="--api-servers $API_SERVERS"; fi
unit netkube-agent "netkube agent (overlay, kubelet, kube-proxy)" network-online.target \
  "/usr/local/bin/netkube agent --server https://$SERVER_IP:6443 --bootstrap-token $TOKEN --discovery-token-ca-cert-hash $CA_CERT_HASH --kubeconfig $STATE/agent/kubelet.kubeconfig --proxy-kubeconfig $STATE/proxy.kubeconfig --network-kubeconfig $STATE/network.kubeconfig --node-name $NODE_NAME --node-ip $NODE_IP --iface eth1 $API_FLAGS --etcd-endpoints $ETCD_ENDPOINTS --state-dir $STATE/agent $CLIENT_CA_FLAGS --proxy-mode $PROXY_MODE --backend $BACKEND --allow-root-netns" \
  KillMode=process
echo "netkube $ROLE on $NODE_NAME ($NODE_IP) is up"
