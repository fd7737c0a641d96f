#!/usr/bin/env bash
# Provisions one netkube VM: Node 20, netkube's own setup (Debian packages, npm ci, build),
# then systemd units for the server (node1) and the agent (every node).
set -euo pipefail
: "${NODE_NAME:?}" "${NODE_IP:?}" "${SERVER_IP:?}" "${ROLE:?}" "${TOKEN:?}"
PROXY_MODE=${PROXY_MODE:-nftables}
BACKEND=${BACKEND:-vxlan}

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

if [ "$ROLE" = server ]; then
  mkdir -p "$STATE/server"
  # kube-apiserver's token file format: token,user,uid,"groups"
  echo "$TOKEN,system:node-bootstrap,bootstrap,\"system:masters\"" > "$STATE/server/bootstrap-tokens.csv"
  cat > /etc/systemd/system/netkube-server.service <<UNIT
[Unit]
Description=netkube server (etcd, apiserver, controllers, scheduler)
After=network-online.target
[Service]
ExecStart=/usr/local/bin/netkube server --state-dir $STATE/server --bind-address 0.0.0.0 --advertise-address $NODE_IP --etcd-listen $NODE_IP --extra-token-file $STATE/server/bootstrap-tokens.csv
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now netkube-server
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
until curl -ksf "https://$SERVER_IP:6443/readyz" >/dev/null; do echo "waiting for the apiserver on $SERVER_IP…"; sleep 3; done
cat > /etc/systemd/system/netkube-agent.service <<UNIT
[Unit]
Description=netkube agent (overlay, kubelet, kube-proxy)
After=network-online.target
[Service]
ExecStart=/usr/local/bin/netkube agent --kubeconfig $STATE/node.kubeconfig --node-name $NODE_NAME --node-ip $NODE_IP --iface eth1 --etcd-endpoints http://$SERVER_IP:2379 --state-dir $STATE/agent --proxy-mode $PROXY_MODE --backend $BACKEND --allow-root-netns
Restart=always
KillMode=process
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now netkube-agent
echo "netkube $ROLE on $NODE_NAME ($NODE_IP) is up"
