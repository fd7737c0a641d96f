// Minimal nftables runner for the CNI plugin (its masquerade table). The full typed
// transaction lives in nft.ts (kube-proxy); this only feeds a ruleset text to `nft -f -`
// inside a namespace, so the plugin does not load more than it needs.
import { run } from '../util/exec.js';
import { NetError } from './errors.js';
import { resolveNetns } from './netns.js';
function nftArgv(netns, args) {
    return netns ? ['nsenter', [`--net=${resolveNetns(netns)}`, 'nft', ...args]] : ['nft', args];
}
/** Apply a ruleset text atomically (`nft -f -`) in `netns` (name or path; undefined = here). */
export async function nftApply(netns, text, what = 'ruleset') {
    const [file, args] = nftArgv(netns, ['-f', '-']);
    const r = await run(file, args, { input: text, allowFailure: true });
    if (r.code !== 0)
        throw new NetError('nft apply', `${what}${netns ? ` (netns ${netns})` : ''}`, 'EINVAL', r.stderr.trim());
}
/** `nft list …` output, or undefined when the object does not exist. */
export async function nftList(netns, args) {
    const [file, argv] = nftArgv(netns, ['list', ...args]);
    const r = await run(file, argv, { allowFailure: true });
    return r.code === 0 ? r.stdout : undefined;
}
