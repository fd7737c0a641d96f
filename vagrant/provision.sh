#!/usr/bin/env bash
# Provisions one netkube VM: Node 20, netkube's own setup (Debian packages, npm ci, build),
# then systemd units for the server (node1) and the agent (every node). With HA=1 (the
# Vagrantfile's NETKUBE_HA=1): an etcd member unit on node1..3 (one static 3-member cluster)
# and the server on node1 and node2, sharing the PKI the Vagrantfile made in vagrant/.pki.
set -euo pipefail
: "${NODE_NAME:?}" "${NODE_IP:?}" "${SERVER_IP:?}" "${ROLE:?}" "${TOKEN:?}"
PROXY_MODE=${PROXY_MODE:-nftables}
BACKEND=${BACKEND:-vxlan}
HA=${HA:-0}
ETCD_MEMBER=${ETCD_MEMBER:-0}
ETCD_ENDPOINTS=${ETCD_ENDPOINTS:-http://$SERVER_IP:2379}
API_SERVERS=${API_SERVERS:-https://$SERVER_IP:6443}

apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates curl
if ! node --version 2>/dev/null | grep -q '^v2[0-9]'; then
  apt-get install -y -qq --no-install-recommends npm
  npm install -g n >/dev/null && n 20 >/dev/null
  hash -r
fi
# IPVS mode needs the userspace tools; the kernel modules ship with Debian's kernel.
if [ "$PROXY_MODE" = ipvs ]; then apt-get install -y -qq ipvsadm ipset && modprobe -a ip_vs ip_vs_rr; fi

cd /netkube
bash scripts/setup.sh
ln -sf /netkube/dist/src/cli/main.js /usr/local/bin/netkube
STATE=/var/lib/netkube
mkdir -p "$STATE"

# unit NAME DESCRIPTION AFTER EXECSTART [EXTRA-SERVICE-LINE]: a Restart=always unit, enabled and started.
unit() {
  cat > "/etc/systemd/system/$1.service" <<UNIT
[Unit]
Description=$2
After=$3
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
  # kube-apiserver's token file format: token,user,uid,"groups"
  echo "$TOKEN,system:node-bootstrap,bootstrap,\"system:masters\"" > "$STATE/server/bootstrap-tokens.csv"
  unit netkube-server "netkube server (etcd, apiserver, controllers, scheduler)" "network-online.target netkube-etcd.service" \
    "/usr/local/bin/netkube server --state-dir $STATE/server --bind-address 0.0.0.0 --advertise-address $NODE_IP $ETCD_FLAGS --extra-token-file $STATE/server/bootstrap-tokens.csv --load-balancer-pools default=${LB_POOL:-192.168.56.200-192.168.56.250}"
fi

# The agents' kubeconfig: the bootstrap token; the lab's VMs trust the server's address on
# the private network (kubeadm's --discovery-token-unsafe-skip-ca-verification, in spirit).
cat > "$STATE/node.kubeconfig" <<KCFG
{"apiVersion":"v1","kind":"Config",
 "clusters":[{"name":"netkube","cluster":{"server":"https://$SERVER_IP:6443","insecure-skip-tls-verify":true}}],
 "users":[{"name":"node","user":{"token":"$TOKEN"}}],
 "contexts":[{"name":"node@netkube","context":{"cluster":"netkube","user":"node"}}],
 "current-context":"node@netkube"}
KCFG
# HA: node1's apiserver is ready only once a second etcd member is up, and VMs provision one
# after another, so don't wait here: systemd restarts the agent until the API answers.
if [ "$HA" != 1 ]; then
  until curl -ksf "https://$SERVER_IP:6443/readyz" >/dev/null; do echo "waiting for the apiserver on $SERVER_IP…"; sleep 3; done
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
# The kubeconfig skips server verification; the kubelet still needs the CA to check the apiserver's client certificate.
CLIENT_CA_FLAGS="--client-ca-file /netkube/vagrant/.pki/ca.crt"
# Every apiserver when the agent's client can fail over between them (its usage lists the flag).
API_FLAGS=""
AGENT_USAGE=$(netkube agent 2>&1 || true)
if [ "$HA" = 1 ] && [[ $AGENT_USAGE == *--api-servers* ]]; then API_FLAGS="--api-servers $API_SERVERS"; fi
unit netkube-agent "netkube agent (overlay, kubelet, kube-proxy)" network-online.target \
  "/usr/local/bin/netkube agent --kubeconfig $STATE/node.kubeconfig --node-name $NODE_NAME --node-ip $NODE_IP --iface eth1 $API_FLAGS --etcd-endpoints $ETCD_ENDPOINTS --state-dir $STATE/agent $CLIENT_CA_FLAGS --proxy-mode $PROXY_MODE --backend $BACKEND --allow-root-netns" \
  KillMode=process
echo "netkube $ROLE on $NODE_NAME ($NODE_IP) is up"
