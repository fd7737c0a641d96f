import { isConflict, isNotFound } from '../client/errors.js';
import { logger } from '../util/log.js';
import { setCondition } from './apiutil.js';
import { R } from './informers.js';
import { decideNode, observeNode, orphanedPods } from './nodelifecycle-core.js';
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const BY_NODE = 'nodeName';
export class NodeLifecycleController {
    client;
    metrics;
    cfg;
    nodes;
    leases;
    pods;
    health = new Map();
    orphanSince = new Map();
    timer;
    busy = Promise.resolve();
    stopped = false;
    log = logger('controller.nodelifecycle');
    constructor(client, f, metrics, cfg) {
        this.client = client;
        this.metrics = metrics;
        this.cfg = cfg;
        f.addIndexers(R.pods, { [BY_NODE]: (p) => (p.spec.nodeName ? [p.spec.nodeName] : []) });
        this.nodes = f.get(R.nodes);
        this.leases = f.get(R.leases);
        this.pods = f.get(R.pods);
    }
    run() {
        const tick = () => {
            if (this.stopped)
                return;
            this.busy = this.monitor()
                .catch((err) => {
                this.metrics.reconcileErrors.inc({ controller: 'nodelifecycle' });
                this.log.warn({ err: err.message }, 'node monitor pass failed');
            })
                .finally(() => {
                if (!this.stopped)
                    this.timer = setTimeout(tick, this.cfg.monitorPeriodMs);
            });
        };
        tick();
    }
    async stop() {
        this.stopped = true;
        if (this.timer)
            clearTimeout(this.timer);
        await this.busy;
    }
    /** One pass over every node (exported for tests through the controller manager). */
    async monitor() {
        const end = this.metrics.reconcileDuration.startTimer({ controller: 'nodelifecycle' });
        this.metrics.reconciles.inc({ controller: 'nodelifecycle' });
        const now = Date.now();
        const seen = new Set();
        for (const node of this.nodes.store.list()) {
            const name = node.metadata.name;
            seen.add(name);
            const lease = this.leases.store.get(`${NODE_LEASE_NAMESPACE}/${name}`);
            const h = observeNode(this.health.get(name), node, lease, now);
            this.health.set(name, h);
            const d = decideNode(node, h, this.pods.store.byIndex(BY_NODE, name), now, this.cfg);
            for (const a of d.actions) {
                try {
                    await this.apply(node, a);
                }
                catch (err) {
                    if (!isNotFound(err) && !isConflict(err))
                        throw err;
                }
            }
        }
        for (const n of this.health.keys())
            if (!seen.has(n))
                this.health.delete(n);
        // Pods bound to nodes that are gone: nobody will ever finish them.
        if (this.nodes.hasSynced() && this.pods.hasSynced()) {
            for (const p of orphanedPods(this.pods.store.list(), seen, this.orphanSince, now, this.cfg.orphanQuarantineMs ?? 20_000)) {
                this.log.info({ pod: `${p.metadata.namespace}/${p.metadata.name}`, node: p.spec.nodeName }, 'deleting pod bound to a vanished node');
                try {
                    await this.client.resource(R.pods, p.metadata.namespace).delete(p.metadata.name, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } });
                }
                catch (err) {
                    if (!isNotFound(err) && !isConflict(err))
                        throw err;
                }
            }
        }
        end();
    }
    async apply(node, a) {
        const nodes = this.client.resource(R.nodes);
        switch (a.kind) {
            case 'nodeConditions':
                this.log.info({ node: node.metadata.name }, 'node stopped heartbeating: conditions Unknown');
                await nodes.patchStatus(node.metadata.name, { status: { conditions: a.conditions } }, 'merge');
                break;
            case 'taints':
                // Pinned to the version we decided on: a concurrent taint change wins, we retry next tick.
                await nodes.patch(node.metadata.name, { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { taints: a.taints.length ? a.taints : null } }, 'merge');
                break;
            case 'markPodNotReady': {
                const pod = this.pods.store.get(`${a.namespace}/${a.name}`);
                if (!pod)
                    return;
                const conds = setCondition(pod.status?.conditions, { type: 'Ready', status: 'False', reason: 'NodeNotReady', message: 'Node is not ready' });
                await this.client.resource(R.pods, a.namespace).patchStatus(a.name, { status: { conditions: conds } }, 'merge');
                break;
            }
            case 'evictPod':
                this.log.info({ node: node.metadata.name, pod: `${a.namespace}/${a.name}` }, 'evicting pod from unreachable node');
                await this.client.resource(R.pods, a.namespace).delete(a.name);
                break;
        }
    }
}
