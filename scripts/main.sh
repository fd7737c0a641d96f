#!/usr/bin/env bash
# The main job: a multi-node netkube cluster on this machine (the lab). Installs what is
# missing, brings the lab up, and tears it down on Ctrl-C (or run `netkube lab down`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
NODES=${NETKUBE_NODES:-3}
NAME=${NETKUBE_LAB:-lab}
netkube() { node dist/src/cli/main.js "$@"; }

down() {
  trap - INT TERM
  [ -n "${sleeper:-}" ] && kill "$sleeper" 2>/dev/null
  echo
  netkube lab down --name "$NAME"
  exit 0
}
# A lab left over from a crashed run is removed first.
if netkube lab status --name "$NAME" | grep -q daemons; then netkube lab down --name "$NAME"; fi
netkube lab up --name "$NAME" --nodes "$NODES"
trap down INT TERM
KCFG=/var/lib/netkube/lab/$NAME/kubeconfig
cat <<MSG

netkube lab "$NAME" is up ($NODES nodes). In another shell:
  export KUBECONFIG=$KCFG
  kubectl get nodes -o wide
  kubectl apply -f examples/web.yaml && kubectl get pods -o wide
  ip netns exec nk$NAME-node$NODES dig @10.96.0.10 kubernetes.default.svc.cluster.local
  node dist/src/cli/main.js lab status --name $NAME

Ctrl-C here removes the lab.
MSG
while true; do sleep 3600 & sleeper=$!; wait $sleeper; done
