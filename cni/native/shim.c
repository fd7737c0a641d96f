// netkube CNI shim: the executable a runtime execs as `netkube`. A Node process costs
// 70–100 ms just to start, so the exec'd binary is this small C program instead: it forwards
// the CNI_* environment and stdin to the node agent's socket (abstract `@netkube-cni` by
// default; config "agentSocket" or env NETKUBE_CNI_SOCKET override) and prints the answer.
// With no agent listening it execs the full Node plugin (`netkube.js` next to this binary)
// with the same stdin. Wire format (cni/server.ts):
//   request : "NKCNI1\n" { "KEY=VALUE" "\0" }* "\0" <stdin bytes> <half-close>
//   response: "<exit code>\n" <stdout bytes> <close>
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static char *read_all(int fd, size_t *len) {
  size_t cap = 8192, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// "agentSocket": "..." from the config, without a JSON parser (the key is ours, values plain).
static const char *socket_from_config(const char *in, char *out, size_t cap) {
  const char *k = strstr(in, "\"agentSocket\"");
  if (!k) return NULL;
  const char *q = strchr(k + 13, '"');
  if (!q) return NULL;
  const char *e = strchr(q + 1, '"');
  if (!e || (size_t)(e - q - 1) >= cap) return NULL;
  memcpy(out, q + 1, (size_t)(e - q - 1));
  out[e - q - 1] = 0;
  return out;
}

static void fallback(const char *in, size_t len, char **argv) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) goto fail;
  self[n] = 0;
  char js[PATH_MAX];
  snprintf(js, sizeof js, "%s/netkube.js", dirname(self));
  int fd = memfd_create("cni-stdin", 0);
  if (fd < 0 || write_all(fd, in, len) < 0 || lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, 0) < 0) goto fail;
  close(fd);
  setenv("NETKUBE_CNI_SOCKET", "none", 1);
  argv[0] = js;
  execv(js, argv);
fail:
  printf("{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"netkube: cannot start the plugin\",\"details\":\"%s\"}\n", strerror(errno));
  exit(1);
}

int main(int argc, char **argv) {
  (void)argc;
  size_t len;
  char *in = read_all(0, &len);
  char cfgsock[256];
  const char *path = getenv("NETKUBE_CNI_SOCKET");
  if (!path || !*path) path = socket_from_config(in, cfgsock, sizeof cfgsock);
  if (!path || !*path) path = "@netkube-cni";
  if (strcmp(path, "none") == 0) fallback(in, len, argv);

  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t plen = strlen(path);
  if (plen >= sizeof sa.sun_path) fallback(in, len, argv);
  memcpy(sa.sun_path, path, plen);
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
  if (path[0] == '@') {
    // Abstract (scoped to this network namespace). Node/libuv binds abstract names with the
    // full, NUL-padded sun_path as the address, so connect with the same length.
    sa.sun_path[0] = 0;
    salen = sizeof sa;
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, salen) < 0) fallback(in, len, argv);

  if (write_all(s, "NKCNI1\n", 7) < 0) fallback(in, len, argv);
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) == 0 && write_all(s, *e, strlen(*e) + 1) < 0) fallback(in, len, argv);
  }
  if (write_all(s, "", 1) < 0 || write_all(s, in, len) < 0) fallback(in, len, argv);
  shutdown(s, SHUT_WR);

  size_t rlen;
  char *resp = read_all(s, &rlen);
  char *nl = memchr(resp, '\n', rlen);
  // The agent went away before answering: run the plugin here (ADD/DEL are idempotent).
  if (!nl) fallback(in, len, argv);
  int code = atoi(resp);
  size_t off = (size_t)(nl - resp) + 1;
  write_all(1, resp + off, rlen - off);
  return code;
}
