// Public surface of the client library: import from here.
export * from './interfaces.js';
export { ApiStatusErrorImpl, isApiStatusError, isNotFound, isConflict, isAlreadyExists, isGone, isInvalid, isUnauthorized, isForbidden, } from './errors.js';
export { createClient, RestClient, resourcePath, PATCH_CONTENT_TYPES, LineSplitter } from './rest.js';
export { loadKubeconfig, parseKubeconfig, clientConfigFromEnv, KubeconfigError } from './kubeconfig.js';
export { createInformer, Informer, waitForCacheSync, waitForCacheSyncTimeout, Backoff } from './informer.js';
export { IndexedStore, NAMESPACE_INDEX } from './store.js';
export { createWorkQueue, WorkQueue, runWorkers, ItemExponentialFailureRateLimiter, BucketRateLimiter, MaxOfRateLimiter, defaultControllerRateLimiter, } from './workqueue.js';
