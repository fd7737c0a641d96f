// Running host programs (etcd, nft, ip, podman). One helper so every call has the same
// error shape: which program, which arguments, what it wrote on stderr.
import { spawn } from 'node:child_process';
export class ExecError extends Error {
    command;
    result;
    constructor(command, result) {
        super(`${command}: exit ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
        this.command = command;
        this.result = result;
    }
}
export function run(file, args, opts = {}) {
    return new Promise((resolve, reject) => {
        const spawnOpts = { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env };
        if (opts.cwd)
            spawnOpts.cwd = opts.cwd;
        const child = spawn(file, args, spawnOpts);
        let stdout = '';
        let stderr = '';
        let timer;
        if (opts.timeoutMs)
            timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
        child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
        child.on('error', (err) => {
            if (timer)
                clearTimeout(timer);
            reject(new Error(`${file} ${args.join(' ')}: ${err.message}`));
        });
        child.on('close', (code, signal) => {
            if (timer)
                clearTimeout(timer);
            const result = { stdout, stderr, code: code ?? (signal ? 128 : 1) };
            if (result.code !== 0 && !opts.allowFailure)
                reject(new ExecError(`${file} ${args.join(' ')}`, result));
            else
                resolve(result);
        });
        child.stdin.on('error', () => { });
        child.stdin.end(opts.input ?? '');
    });
}
