import { IPT } from './iptables.js';
import { categorize } from './serviceport.js';
export const IPVS_DEVICE = 'kube-ipvs0';
export const IPSETS = {
    clusterIP: 'KUBE-CLUSTER-IP',
    externalIP: 'KUBE-EXTERNAL-IP',
    loopBack: 'KUBE-LOOP-BACK',
    nodePortTCP: 'KUBE-NODE-PORT-TCP',
    nodePortUDP: 'KUBE-NODE-PORT-UDP',
};
const flag = (p) => (p === 'tcp' ? '-t' : p === 'udp' ? '-u' : '--sctp-service');
export function renderIpvs(all, cfg) {
    const sched = cfg.scheduler ?? 'rr';
    const ipvs = ['-C'];
    const sets = {
        [IPSETS.clusterIP]: [],
        [IPSETS.externalIP]: [],
        [IPSETS.loopBack]: [],
        [IPSETS.nodePortTCP]: [],
        [IPSETS.nodePortUDP]: [],
    };
    const addresses = new Set();
    let vs = 0;
    let rs = 0;
    for (const ports of all)
        for (const sp of ports) {
            if (!sp.clusterIP)
                continue;
            const cat = categorize(sp);
            const persist = sp.affinitySeconds !== undefined ? ` -p ${sp.affinitySeconds}` : '';
            const virtual = (ip, port, eps) => {
                ipvs.push(`-A ${flag(sp.protocol)} ${ip}:${port} -s ${sched}${persist}`);
                vs++;
                for (const ep of eps) {
                    ipvs.push(`-a ${flag(sp.protocol)} ${ip}:${port} -r ${ep.ip}:${ep.port} -m -w 1`);
                    rs++;
                }
            };
            addresses.add(sp.clusterIP);
            sets[IPSETS.clusterIP].push(`${sp.clusterIP},${sp.protocol}:${sp.port}`);
            // a virtual server without real servers answers nothing; upstream keeps it (traffic is
            // dropped by IPVS), the iptables filter chain rejects it first
            virtual(sp.clusterIP, sp.port, cat.internal);
            for (const ip of sp.externalIPs) {
                addresses.add(ip);
                sets[IPSETS.externalIP].push(`${ip},${sp.protocol}:${sp.port}`);
                virtual(ip, sp.port, cat.external);
            }
            if (sp.nodePort !== undefined) {
                for (const ip of cfg.nodeIPs)
                    virtual(ip, sp.nodePort, cat.external);
                if (sp.protocol === 'tcp')
                    sets[IPSETS.nodePortTCP].push(String(sp.nodePort));
                if (sp.protocol === 'udp')
                    sets[IPSETS.nodePortUDP].push(String(sp.nodePort));
            }
            for (const ep of cat.cluster)
                sets[IPSETS.loopBack].push(`${ep.ip},${sp.protocol}:${ep.port},${ep.ip}`);
        }
    const setTypes = {
        [IPSETS.clusterIP]: 'hash:ip,port',
        [IPSETS.externalIP]: 'hash:ip,port',
        [IPSETS.loopBack]: 'hash:ip,port,ip',
        [IPSETS.nodePortTCP]: 'bitmap:port range 0-65535',
        [IPSETS.nodePortUDP]: 'bitmap:port range 0-65535',
    };
    const ipset = [];
    for (const [name, entries] of Object.entries(sets)) {
        ipset.push(`create ${name} ${setTypes[name]} -exist`, `flush ${name}`);
        for (const e of [...new Set(entries)].sort())
            ipset.push(`add ${name} ${e}`);
    }
    const ipt = [
        '*nat',
        `:${IPT.services} - [0:0]`,
        `:KUBE-NODE-PORT - [0:0]`,
        `:${IPT.postrouting} - [0:0]`,
        `:${IPT.markMasq} - [0:0]`,
        `-A ${IPT.postrouting} -m set --match-set ${IPSETS.loopBack} dst,dst,src -j MASQUERADE`,
        `-A ${IPT.postrouting} -m mark ! --mark ${IPT.masqMark} -j RETURN`,
        `-A ${IPT.postrouting} -j MARK --xor-mark 0x4000`,
        `-A ${IPT.postrouting} -j MASQUERADE --random-fully`,
        `-A ${IPT.markMasq} -j MARK --or-mark 0x4000`,
        `-A ${IPT.services} -m set --match-set ${IPSETS.clusterIP} dst,dst ! -s ${cfg.clusterCIDR} -j ${IPT.markMasq}`,
        `-A ${IPT.services} -m set --match-set ${IPSETS.externalIP} dst,dst -j ${IPT.markMasq}`,
        `-A ${IPT.services} -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT`,
        `-A KUBE-NODE-PORT -p tcp -m set --match-set ${IPSETS.nodePortTCP} dst -j ${IPT.markMasq}`,
        `-A KUBE-NODE-PORT -p udp -m set --match-set ${IPSETS.nodePortUDP} dst -j ${IPT.markMasq}`,
        'COMMIT',
        '',
    ];
    return {
        ipvsadm: ipvs.join('\n') + '\n',
        ipset: ipset.join('\n') + '\n',
        iptables: ipt.join('\n'),
        addresses: [...addresses].sort(),
        virtualServers: vs,
        realServers: rs,
    };
}
/** Records renders; applying IPVS for real needs a kernel with IP_VS (the Vagrant VMs). */
export class RecordingIpvsRunner {
    applied = [];
    async apply(r) {
        this.applied.push(r);
    }
}
export class IpvsBackend {
    runner;
    cfg;
    mode = 'ipvs';
    constructor(runner, cfg) {
        this.runner = runner;
        this.cfg = cfg;
    }
    async sync(input) {
        const r = renderIpvs(input.ports.values(), this.cfg);
        await this.runner.apply(r);
        return { rules: r.realServers, chains: r.virtualServers, written: r.ipvsadm.length };
    }
}
