// Two things Node cannot do by itself. (1) setns(2): move the calling (main) thread into another
// network namespace with setns(2). Everything else (opening the namespace file, creating
// the netlink socket while inside, switching back) is done from JavaScript.
// (2) flock(2), non-blocking only: the lock dies with the process, so an IPAM allocation
// interrupted by SIGKILL never leaves a stale lock behind (a pid file would).
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/file.h>
#include <string.h>
#include <node_api.h>

static napi_value Setns(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "setns(fd: number)");
    return NULL;
  }
  if (setns(fd, CLONE_NEWNET) != 0) {
    int e = errno;
    napi_throw_error(env, e == EPERM ? "EPERM" : e == EINVAL ? "EINVAL" : e == EBADF ? "EBADF" : "ESETNS", strerror(e));
    return NULL;
  }
  return NULL;
}

// flock(fd, exclusive) -> true if taken, false if someone else holds it (never blocks).
// flock(fd, -1) unlocks.
static napi_value Flock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1, mode = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &mode) != napi_ok) {
    napi_throw_type_error(env, NULL, "flock(fd: number, mode: 1 | 0 | -1)");
    return NULL;
  }
  int op = mode < 0 ? LOCK_UN : ((mode ? LOCK_EX : LOCK_SH) | LOCK_NB);
  int rc;
  do { rc = flock(fd, op); } while (rc != 0 && errno == EINTR);
  napi_value out;
  if (rc != 0 && errno != EWOULDBLOCK) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  napi_get_boolean(env, rc == 0, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value lk;
  napi_create_function(env, "flock", NAPI_AUTO_LENGTH, Flock, NULL, &lk);
  napi_set_named_property(env, exports, "flock", lk);
  napi_value fn;
  napi_create_function(env, "setns", NAPI_AUTO_LENGTH, Setns, NULL, &fn);
  napi_set_named_property(env, exports, "setns", fn);
  return exports;
}
