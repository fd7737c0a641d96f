function cond(type, ok, prev, now, reason) {
    const status = ok ? 'True' : 'False';
    const old = prev?.find((c) => c.type === type);
    const c = { type, status, lastProbeTime: null, lastTransitionTime: old && old.status === status ? old.lastTransitionTime : now };
    if (!ok && reason)
        c.reason = reason;
    return c;
}
export function podPhase(pod, containers) {
    const statuses = containers.map((c) => c.status);
    if (statuses.length === 0)
        return 'Pending';
    const running = statuses.filter((s) => s.state?.running).length;
    const waiting = statuses.filter((s) => s.state?.waiting).length;
    const terminated = statuses.filter((s) => s.state?.terminated);
    const succeeded = terminated.filter((s) => s.state.terminated.exitCode === 0).length;
    const policy = pod.spec.restartPolicy ?? 'Always';
    // A container waiting to restart after having run counts as running, as in the kubelet.
    const restarting = statuses.filter((s) => s.state?.waiting && s.lastState?.terminated).length;
    if (waiting - restarting > 0)
        return 'Pending';
    if (running + restarting > 0)
        return 'Running';
    if (terminated.length === statuses.length) {
        if (policy === 'Always')
            return 'Running';
        return succeeded === statuses.length ? 'Succeeded' : 'Failed';
    }
    return 'Pending';
}
export function computePodStatus(v, now) {
    const prev = v.pod.status?.conditions;
    const statuses = v.containers.map((c) => c.status);
    const phase = podPhase(v.pod, v.containers);
    const allReady = statuses.length > 0 && statuses.every((s) => s.ready);
    const terminal = phase === 'Succeeded' || phase === 'Failed';
    const notReadyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
    const status = {
        phase,
        conditions: [
            cond('PodReadyToStartContainers', v.sandboxReady, prev, now),
            cond('Initialized', true, prev, now),
            cond('Ready', allReady && !terminal, prev, now, notReadyReason),
            cond('ContainersReady', allReady && !terminal, prev, now, notReadyReason),
            cond('PodScheduled', true, prev, now),
        ],
        hostIP: v.hostIP,
        hostIPs: [{ ip: v.hostIP }],
        startTime: v.startTime,
        containerStatuses: statuses,
        qosClass: 'BestEffort',
    };
    if (v.podIP) {
        status.podIP = v.podIP;
        status.podIPs = [{ ip: v.podIP }];
    }
    if (v.message)
        status.message = v.message;
    return status;
}
