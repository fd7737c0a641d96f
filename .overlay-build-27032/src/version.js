// What GET /version reports. kubectl picks its bundled client from major/minor.
export const VERSION = {
    major: '1',
    minor: '31',
    gitVersion: 'v1.31.0-netkube.0.1.0',
    gitCommit: 'netkube',
    gitTreeState: 'clean',
    buildDate: '2026-11-28T00:00:00Z',
    goVersion: 'node' + process.versions.node,
    compiler: 'tsc',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};
