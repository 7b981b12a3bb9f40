/*
 * Capture listeners: a listening TCP socket this addon owns and accepts from on Node's own event
 * loop, reading each accepted connection's original destination there. Node's net has no API for
 * a socket's descriptor, SO_ORIGINAL_DST or IP_TRANSPARENT; owning accept() means JavaScript never
 * needs a descriptor from net's internals: it gets each accepted one from here and wraps it with
 * the public `new net.Socket({ fd })`.
 *
 *   listen({ host, port, backlog, transparent, reusePort }, onAccept, onError)
 *       -> { handle, port, family }          throws Error (code EADDRINUSE, EACCES, EPERM, ...)
 *       socket(2) + SO_REUSEADDR (+ SO_REUSEPORT) (+ IP_TRANSPARENT / IPV6_TRANSPARENT, TPROXY:
 *       needs CAP_NET_ADMIN) + bind + listen, non-blocking; a uv_poll_t on Node's loop
 *       (napi_get_uv_event_loop) wakes on a pending connection, accept4() takes up to
 *       ACCEPT_BATCH of them, and onAccept gets one flat array per wake:
 *       [fd, originalAddress | null, originalPort, fd, ...]. The original address is
 *       SO_ORIGINAL_DST (SOL_IP) or IP6T_SO_ORIGINAL_DST (SOL_IPV6): where the connection was
 *       headed before iptables REDIRECTed it (for TPROXY, and for a connection made to the
 *       listener itself, conntrack's original destination is the local address); null when
 *       conntrack knows no such connection.
 *       onError(code, message): accept() failed for another reason than a connection that went
 *       away (descriptors or memory exhausted: EMFILE, ENFILE, ENOBUFS, ENOMEM); the listener
 *       stops polling for BACKOFF_MS and goes on.
 *   close(handle, drain) -> [fd, originalAddress | null, originalPort, ...]
 *       stops accepting and closes the listening socket (idempotent). With drain, the connections
 *       already queued on it are accepted first and returned (with SO_REUSEPORT the next
 *       generation's socket takes new ones; the close would reset these). Accepted connections
 *       are JavaScript's.
 *
 * Node-API only (ABI-stable across Node versions; libuv is the one Node exports). Linux only.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* linux/netfilter_ipv4.h */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* linux/netfilter_ipv6/ip6_tables.h */
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

/* connections taken per wake: the poll is level-triggered, so what is left wakes it again */
#define ACCEPT_BATCH 64
/* after EMFILE/ENFILE/ENOBUFS/ENOMEM: a pause before accepting again (no busy loop) */
#define BACKOFF_MS 50

typedef struct listener {
  napi_env env;
  uv_poll_t poll;
  uv_timer_t backoff;
  int fd;
  int family;
  int closed;           /* close() ran: no more accepts, no more callbacks */
  int handles_open;     /* uv handles not yet closed (poll, timer) */
  int external_alive;   /* the JavaScript handle has not been finalized */
  napi_ref on_accept;
  napi_ref on_error;
  napi_async_context async;
} listener_t;

static napi_value throw_sys(napi_env env, const char *syscall, int err, const char *where) {
  char msg[256];
  const char *code = uv_err_name(-err);
  snprintf(msg, sizeof msg, "%s %s: %s%s%s", syscall, code, strerror(err), where ? " " : "", where ? where : "");
  napi_value c, m, e, s, n;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &e);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, e, "syscall", s);
  napi_create_int32(env, -err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_throw(env, e);
  return NULL;
}

static napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
  return NULL;
}

/* ---- one accepted connection's original destination ---- */

/* writes the address into text (or "" when conntrack has none); returns the port */
static unsigned original_dst(int fd, int family, char *text, size_t size) {
  text[0] = 0;
  if (family == AF_INET6) {
    struct sockaddr_in6 a6;
    socklen_t len = sizeof a6;
    memset(&a6, 0, sizeof a6);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &a6, &len) == 0) {
      if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) inet_ntop(AF_INET, &a6.sin6_addr.s6_addr[12], text, size);
      else inet_ntop(AF_INET6, &a6.sin6_addr, text, size);
      return ntohs(a6.sin6_port);
    }
    /* an IPv4 connection on a dual-stack socket: the IPv4 conntrack entry */
  }
  struct sockaddr_in a4;
  socklen_t len = sizeof a4;
  memset(&a4, 0, sizeof a4);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &a4, &len) == 0) {
    inet_ntop(AF_INET, &a4.sin_addr, text, size);
    return ntohs(a4.sin_port);
  }
  return 0;
}

/* ---- calling JavaScript from a libuv callback ---- */

/* runs fn(argc, argv) through napi_make_callback (so process.nextTick and promise jobs run after
 * it, as after any I/O callback); a throw becomes an uncaught exception, as in a net callback */
static int call_js(listener_t *l, napi_ref ref, size_t argc, napi_value *argv) {
  napi_env env = l->env;
  napi_value fn, recv, result;
  if (napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return 0;
  napi_get_global(env, &recv); /* a receiver object: napi_make_callback rejects undefined */
  napi_status st = napi_make_callback(env, l->async, recv, fn, argc, argv, &result);
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  /* 0: the function never ran (the environment is going away) */
  return st == napi_ok || st == napi_pending_exception;
}

static void report_error(listener_t *l, int err) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(l->env, &scope) != napi_ok) return;
  char msg[160];
  snprintf(msg, sizeof msg, "accept %s: %s", uv_err_name(-err), strerror(err));
  napi_value argv[2];
  napi_create_string_utf8(l->env, uv_err_name(-err), NAPI_AUTO_LENGTH, &argv[0]);
  napi_create_string_utf8(l->env, msg, NAPI_AUTO_LENGTH, &argv[1]);
  call_js(l, l->on_error, 2, argv);
  napi_close_handle_scope(l->env, scope);
}

/* ---- the accept loop ---- */

static void on_readable(uv_poll_t *poll, int status, int events);

static void on_backoff(uv_timer_t *timer) {
  listener_t *l = timer->data;
  if (!l->closed) uv_poll_start(&l->poll, UV_READABLE, on_readable);
}

static int transient(int err) {
  /* the connection went away or the network reported an error for it: take the next one */
  return err == EINTR || err == ECONNABORTED || err == EPROTO || err == ENETDOWN || err == ENOPROTOOPT ||
         err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH || err == EOPNOTSUPP || err == ENETUNREACH ||
         err == EPERM; /* a firewall rule refused it */
}

typedef struct batch {
  int n;
  int fds[ACCEPT_BATCH];
  char addrs[ACCEPT_BATCH][INET6_ADDRSTRLEN];
  unsigned ports[ACCEPT_BATCH];
} batch_t;

/* accepts up to ACCEPT_BATCH pending connections; returns the errno that stopped it, or 0 */
static int accept_batch(listener_t *l, batch_t *b) {
  b->n = 0;
  while (b->n < ACCEPT_BATCH) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return 0;
      if (transient(err)) continue;
      return err;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    b->ports[b->n] = original_dst(fd, l->family, b->addrs[b->n], sizeof b->addrs[b->n]);
    b->fds[b->n++] = fd;
  }
  return 0;
}

/* [fd, originalAddress | null, originalPort, ...] */
static napi_value batch_array(napi_env env, const batch_t *b) {
  napi_value arr, v;
  napi_create_array_with_length(env, (size_t)b->n * 3, &arr);
  for (int i = 0; i < b->n; i++) {
    napi_create_int32(env, b->fds[i], &v);
    napi_set_element(env, arr, (uint32_t)i * 3, v);
    if (b->addrs[i][0]) napi_create_string_utf8(env, b->addrs[i], NAPI_AUTO_LENGTH, &v);
    else napi_get_null(env, &v);
    napi_set_element(env, arr, (uint32_t)i * 3 + 1, v);
    napi_create_uint32(env, b->ports[i], &v);
    napi_set_element(env, arr, (uint32_t)i * 3 + 2, v);
  }
  return arr;
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  listener_t *l = poll->data;
  if (l->closed) return;
  if (status < 0) {
    /* the poll itself failed: wait before trying again rather than spin */
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->backoff, on_backoff, BACKOFF_MS, 0);
    report_error(l, -status);
    return;
  }
  batch_t b;
  int failed = accept_batch(l, &b);
  if (failed) {
    /* descriptors or memory ran out: stop polling a while, as the queue would wake us at once */
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->backoff, on_backoff, BACKOFF_MS, 0);
  }
  if (b.n > 0) {
    napi_env env = l->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) {
      for (int i = 0; i < b.n; i++) close(b.fds[i]);
    } else {
      napi_value arr = batch_array(env, &b);
      /* the connections are JavaScript's once it ran (it closes any it cannot use) */
      if (!call_js(l, l->on_accept, 1, &arr)) for (int i = 0; i < b.n; i++) close(b.fds[i]);
      napi_close_handle_scope(env, scope);
    }
  }
  if (failed && !l->closed) report_error(l, failed);
}

/* ---- lifetime: freed once both uv handles are closed and the JavaScript handle is gone ---- */

static void maybe_free(listener_t *l) {
  if (l->handles_open > 0 || l->external_alive) return;
  free(l);
}

static void on_handle_closed(uv_handle_t *h) {
  listener_t *l = h->data;
  l->handles_open--;
  maybe_free(l);
}

static void on_env_exit(void *arg);

static void close_listener_from(listener_t *l, int from_cleanup_hook) {
  if (l->closed) return;
  l->closed = 1;
  uv_poll_stop(&l->poll);
  uv_timer_stop(&l->backoff);
  uv_close((uv_handle_t *)&l->poll, on_handle_closed);
  uv_close((uv_handle_t *)&l->backoff, on_handle_closed);
  close(l->fd);
  l->fd = -1;
  napi_delete_reference(l->env, l->on_accept);
  napi_delete_reference(l->env, l->on_error);
  napi_async_destroy(l->env, l->async);
  if (!from_cleanup_hook) napi_remove_env_cleanup_hook(l->env, on_env_exit, l);
}

static void close_listener(listener_t *l) {
  close_listener_from(l, 0);
}

/* the environment ends (a worker thread stops, the process exits) with the listener open */
static void on_env_exit(void *arg) {
  close_listener_from(arg, 1);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  listener_t *l = data;
  /* a listener nobody can close any more (the handle was dropped while open) closes now */
  close_listener(l);
  l->external_alive = 0;
  maybe_free(l);
}

/* ---- listen(options, onAccept, onError) ---- */

static int get_prop(napi_env env, napi_value obj, const char *name, napi_valuetype want, napi_value *out) {
  napi_valuetype t;
  if (napi_get_named_property(env, obj, name, out) != napi_ok || napi_typeof(env, *out, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  return t == want ? 1 : -1;
}

static int get_bool(napi_env env, napi_value obj, const char *name, bool *out) {
  napi_value v;
  *out = false;
  int r = get_prop(env, obj, name, napi_boolean, &v);
  if (r == 1) napi_get_value_bool(env, v, out);
  return r >= 0;
}

static napi_value listen_fn(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) return throw_arg(env, "listen(options, onAccept, onError)");
  napi_valuetype t0, t1, t2;
  napi_typeof(env, argv[0], &t0);
  napi_typeof(env, argv[1], &t1);
  napi_typeof(env, argv[2], &t2);
  if (t0 != napi_object || t1 != napi_function || t2 != napi_function) return throw_arg(env, "listen(options, onAccept, onError)");

  napi_value v;
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len = 0;
  if (get_prop(env, argv[0], "host", napi_string, &v) != 1 ||
      napi_get_value_string_utf8(env, v, host, sizeof host, &host_len) != napi_ok || host_len >= sizeof host - 1)
    return throw_arg(env, "options.host: expected an IP address");
  int32_t port = -1, backlog = 511;
  if (get_prop(env, argv[0], "port", napi_number, &v) != 1 || napi_get_value_int32(env, v, &port) != napi_ok || port < 0 || port > 65535)
    return throw_arg(env, "options.port: expected a port number (0-65535)");
  int r = get_prop(env, argv[0], "backlog", napi_number, &v);
  if (r < 0 || (r == 1 && (napi_get_value_int32(env, v, &backlog) != napi_ok || backlog < 1))) return throw_arg(env, "options.backlog: expected a positive integer");
  bool transparent, reuse_port;
  if (!get_bool(env, argv[0], "transparent", &transparent)) return throw_arg(env, "options.transparent: expected a boolean");
  if (!get_bool(env, argv[0], "reusePort", &reuse_port)) return throw_arg(env, "options.reusePort: expected a boolean");

  struct sockaddr_storage ss;
  socklen_t ss_len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  int family;
  if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
    family = sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    ss_len = sizeof *sin;
  } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
    family = sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    ss_len = sizeof *sin6;
  } else {
    return throw_arg(env, "options.host: expected an IP address");
  }
  char where[INET6_ADDRSTRLEN + 16];
  snprintf(where, sizeof where, family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);

  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_sys(env, "socket", errno, where);
  int one = 1, zero = 0;
  const char *failed = NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) failed = "setsockopt(SO_REUSEADDR)";
  /* "::" takes IPv4 connections too, as net's listen on "::" does */
  else if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) failed = "setsockopt(IPV6_V6ONLY)";
  else if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) failed = "setsockopt(SO_REUSEPORT)";
  else if (transparent && family == AF_INET6 && setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one) != 0) failed = "setsockopt(IPV6_TRANSPARENT)";
  else if (transparent && family == AF_INET && setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) != 0) failed = "setsockopt(IP_TRANSPARENT)";
  else if (bind(fd, (struct sockaddr *)&ss, ss_len) != 0) failed = "bind";
  else if (listen(fd, backlog) != 0) failed = "listen";
  if (!failed && transparent && family == AF_INET6) {
    /* IPv4 traffic on the dual-stack socket: best effort, as IPv6 alone may be all that is routed */
    setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one);
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  if (!failed && getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0) failed = "getsockname";
  if (failed) {
    int err = errno;
    close(fd);
    return throw_sys(env, failed, err, where);
  }
  unsigned bound_port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);

  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(fd);
    napi_throw_error(env, "ERR_CLEW_NO_LOOP", "no event loop");
    return NULL;
  }
  listener_t *l = calloc(1, sizeof *l);
  if (!l) {
    close(fd);
    return throw_sys(env, "calloc", ENOMEM, NULL);
  }
  l->env = env;
  l->fd = fd;
  l->family = family;
  int uerr = uv_poll_init(loop, &l->poll, fd);
  if (uerr != 0) {
    close(fd);
    free(l);
    return throw_sys(env, "uv_poll_init", -uerr, where);
  }
  uv_timer_init(loop, &l->backoff);
  l->poll.data = l;
  l->backoff.data = l;
  l->handles_open = 2;
  l->external_alive = 1;
  napi_create_reference(env, argv[1], 1, &l->on_accept);
  napi_create_reference(env, argv[2], 1, &l->on_error);
  napi_value resource_name;
  napi_create_string_utf8(env, "CLEW_CAPTURE_LISTENER", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &l->async);
  napi_add_env_cleanup_hook(env, on_env_exit, l);
  uv_poll_start(&l->poll, UV_READABLE, on_readable);

  napi_value result, handle, p, fam;
  napi_create_object(env, &result);
  napi_create_external(env, l, finalize_handle, NULL, &handle);
  napi_create_uint32(env, bound_port, &p);
  napi_create_int32(env, family == AF_INET6 ? 6 : 4, &fam);
  napi_set_named_property(env, result, "handle", handle);
  napi_set_named_property(env, result, "port", p);
  napi_set_named_property(env, result, "family", fam);
  return result;
}

/* ---- close(handle, drain) ---- */

static napi_value close_fn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external)
    return throw_arg(env, "close(handle, drain): expected a listener handle");
  bool drain = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &drain);
  void *data;
  napi_get_value_external(env, argv[0], &data);
  listener_t *l = data;
  napi_value result;
  napi_create_array(env, &result);
  if (drain && !l->closed) {
    /* SO_REUSEPORT: what the kernel queued on this socket would be reset by the close; take it */
    batch_t b;
    accept_batch(l, &b);
    result = batch_array(env, &b);
  }
  close_listener(l);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"listen", NULL, listen_fn, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, close_fn, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
