// One import point for the net tests.
export * from '../../src/net/index.js'
export { run } from '../../src/util/exec.js'
