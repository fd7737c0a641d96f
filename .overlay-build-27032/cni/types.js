// CNI wire types. Internally netkube works with the 1.x result shape; result.ts renders it
// for the config's cniVersion.
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
