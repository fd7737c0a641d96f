// Batched UDP for the DNS server: uv_poll on a dup of the dgram socket's fd, recvmmsg up to
// BATCH datagrams per wakeup, one JS call per batch, replies sent with one sendmmsg.
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 64
#define MAXPKT 4096

typedef struct {
  uv_poll_t poll;
  int fd;
  napi_env env;
  napi_ref cb;
  char bufs[BATCH][MAXPKT];
  struct sockaddr_storage addrs[BATCH];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  struct iovec oiov[BATCH];
  struct mmsghdr omsgs[BATCH];
} poller_t;

static void on_close(uv_handle_t *h) { free(h->data); }

static void send_all(int fd, struct mmsghdr *m, int n) {
  int off = 0;
  while (off < n) {
    int r = sendmmsg(fd, m + off, n - off, 0);
    if (r < 0) { if (errno == EINTR) continue; off++; continue; } // drop one that fails
    off += r;
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  poller_t *p = h->data;
  if (status < 0) return;
  napi_env env = p->env;
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < BATCH; i++) {
      p->iov[i].iov_base = p->bufs[i]; p->iov[i].iov_len = MAXPKT;
      memset(&p->msgs[i].msg_hdr, 0, sizeof(struct msghdr));
      p->msgs[i].msg_hdr.msg_iov = &p->iov[i]; p->msgs[i].msg_hdr.msg_iovlen = 1;
      p->msgs[i].msg_hdr.msg_name = &p->addrs[i]; p->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int n = recvmmsg(p->fd, p->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value pkts, addrs, cb, global, result;
    napi_create_array_with_length(env, n, &pkts);
    napi_create_array_with_length(env, n, &addrs);
    for (int i = 0; i < n; i++) {
      napi_value b, a; void *d;
      napi_create_buffer_copy(env, p->msgs[i].msg_len, p->bufs[i], &d, &b);
      napi_create_buffer_copy(env, p->msgs[i].msg_hdr.msg_namelen, &p->addrs[i], &d, &a);
      napi_set_element(env, pkts, i, b);
      napi_set_element(env, addrs, i, a);
    }
    napi_get_reference_value(env, p->cb, &cb);
    napi_get_global(env, &global);
    napi_value argv[2] = { pkts, addrs };
    napi_status st = napi_make_callback(env, NULL, global, cb, 2, argv, &result);
    if (st == napi_ok) {
      // result: flat array [addr0, reply0, addr1, reply1, ...]
      bool isArr = false; napi_is_array(env, result, &isArr);
      if (isArr) {
        uint32_t len; napi_get_array_length(env, result, &len);
        int k = 0;
        for (uint32_t j = 0; j + 1 < len; j += 2) {
          napi_value a, r; void *ad, *rd; size_t al, rl;
          napi_get_element(env, result, j, &a); napi_get_element(env, result, j + 1, &r);
          if (napi_get_buffer_info(env, a, &ad, &al) != napi_ok) continue;
          if (napi_get_buffer_info(env, r, &rd, &rl) != napi_ok) continue;
          p->oiov[k].iov_base = rd; p->oiov[k].iov_len = rl;
          memset(&p->omsgs[k].msg_hdr, 0, sizeof(struct msghdr));
          p->omsgs[k].msg_hdr.msg_iov = &p->oiov[k]; p->omsgs[k].msg_hdr.msg_iovlen = 1;
          p->omsgs[k].msg_hdr.msg_name = ad; p->omsgs[k].msg_hdr.msg_namelen = al;
          if (++k == BATCH) { send_all(p->fd, p->omsgs, k); k = 0; }
        }
        if (k) send_all(p->fd, p->omsgs, k);
      }
    } else {
      bool pending = false; napi_is_exception_pending(env, &pending);
      if (pending) { napi_value e; napi_get_and_clear_last_exception(env, &e); }
    }
    napi_close_handle_scope(env, scope);
    if (n < BATCH) return;
  }
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd; napi_get_value_int32(env, argv[0], &fd);
  int d = dup(fd);
  if (d < 0) { napi_throw_error(env, NULL, "dup failed"); return NULL; }
  poller_t *p = calloc(1, sizeof(poller_t));
  p->fd = d; p->env = env;
  napi_create_reference(env, argv[1], 1, &p->cb);
  uv_loop_t *loop; napi_get_uv_event_loop(env, &loop);
  if (uv_poll_init(loop, &p->poll, d) != 0) { close(d); free(p); napi_throw_error(env, NULL, "uv_poll_init failed"); return NULL; }
  p->poll.data = p;
  uv_poll_start(&p->poll, UV_READABLE, on_readable);
  napi_value ext; napi_create_external(env, p, NULL, NULL, &ext);
  return ext;
}

static napi_value stop(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  poller_t *p; napi_get_value_external(env, argv[0], (void **)&p);
  if (!p || p->fd < 0) return NULL;
  uv_poll_stop(&p->poll);
  napi_delete_reference(env, p->cb);
  close(p->fd); p->fd = -1;
  uv_close((uv_handle_t *)&p->poll, on_close);
  return NULL;
}

// sendTo(handle, addr, payload): one reply outside a batch (async slow path)
static napi_value send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  poller_t *p; napi_get_value_external(env, argv[0], (void **)&p);
  void *ad, *rd; size_t al, rl;
  napi_get_buffer_info(env, argv[1], &ad, &al);
  napi_get_buffer_info(env, argv[2], &rd, &rl);
  if (p && p->fd >= 0) sendto(p->fd, rd, rl, MSG_DONTWAIT, ad, al);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    { "start", NULL, start, NULL, NULL, NULL, napi_default, NULL },
    { "stop", NULL, stop, NULL, NULL, NULL, napi_default, NULL },
    { "sendTo", NULL, send_to, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 3, d);
  return exports;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
