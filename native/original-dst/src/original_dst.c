/*
 * The few socket calls Node has no API for, on a socket's file descriptor (socket._handle.fd):
 *
 *   originalDst(fd)      -> { family, address, port } | null
 *       the destination a connection had before iptables REDIRECTed it: SO_ORIGINAL_DST
 *       (SOL_IP) for IPv4, IP6T_SO_ORIGINAL_DST (SOL_IPV6) for IPv6. null when conntrack knows
 *       no such connection (ENOENT: nothing was redirected).
 *   setTransparent(fd)   -> undefined
 *       IP_TRANSPARENT (IPV6_TRANSPARENT on IPv6 sockets) on a listening socket, so TPROXY can
 *       hand it connections addressed to any IP; needs CAP_NET_ADMIN.
 *
 * Node-API only (ABI-stable across Node versions); Linux only. Errors are thrown as Error with
 * the errno name in `code`.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

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

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = err == EBADF ? "EBADF" : err == ENOTSOCK ? "ENOTSOCK" : err == EPERM ? "EPERM"
                   : err == ENOPROTOOPT ? "ENOPROTOOPT" : err == EINVAL ? "EINVAL" : "ESYSCALL";
  napi_throw_error(env, code, msg);
  return NULL;
}

static int fd_arg(napi_env env, napi_callback_info info, int *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "expected a file descriptor");
    return 0;
  }
  int32_t v;
  if (napi_get_value_int32(env, argv[0], &v) != napi_ok || v < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "expected a file descriptor (a non-negative integer)");
    return 0;
  }
  *fd = v;
  return 1;
}

static napi_value address_object(napi_env env, int family, const void *addr, unsigned port) {
  char text[INET6_ADDRSTRLEN];
  if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, text, sizeof text)) return throw_errno(env, "inet_ntop", errno);
  napi_value obj, fam, address, p;
  napi_create_object(env, &obj);
  napi_create_int32(env, family, &fam);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_uint32(env, port, &p);
  napi_set_named_property(env, obj, "family", fam);
  napi_set_named_property(env, obj, "address", address);
  napi_set_named_property(env, obj, "port", p);
  return obj;
}

static int socket_family(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -errno;
  return ss.ss_family;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  int family = socket_family(fd);
  if (family < 0) return throw_errno(env, "getsockname", -family);
  napi_value null_value;
  napi_get_null(env, &null_value);
  if (family == AF_INET6) {
    struct sockaddr_in6 a6;
    socklen_t len = sizeof a6;
    memset(&a6, 0, sizeof a6);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &a6, &len) == 0) {
      if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) return address_object(env, 4, &a6.sin6_addr.s6_addr[12], ntohs(a6.sin6_port));
      return address_object(env, 6, &a6.sin6_addr, ntohs(a6.sin6_port));
    }
    if (errno != ENOENT && errno != ENOPROTOOPT) return throw_errno(env, "getsockopt(IP6T_SO_ORIGINAL_DST)", errno);
    /* an IPv4 connection on a dual-stack socket: the IPv4 conntrack entry */
  } else if (family != AF_INET) {
    return throw_errno(env, "originalDst", EINVAL);
  }
  struct sockaddr_in a4;
  socklen_t len = sizeof a4;
  memset(&a4, 0, sizeof a4);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &a4, &len) == 0) return address_object(env, 4, &a4.sin_addr, ntohs(a4.sin_port));
  if (errno == ENOENT || (family == AF_INET6 && errno == ENOPROTOOPT)) return null_value;
  return throw_errno(env, "getsockopt(SO_ORIGINAL_DST)", errno);
}

static napi_value set_transparent(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  int family = socket_family(fd);
  if (family < 0) return throw_errno(env, "getsockname", -family);
  int one = 1;
  if (family == AF_INET6) {
    if (setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one) != 0) return throw_errno(env, "setsockopt(IPV6_TRANSPARENT)", errno);
  }
  /* IPv4 (and IPv4 traffic on a dual-stack IPv6 socket) */
  if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) != 0 && family == AF_INET) {
    return throw_errno(env, "setsockopt(IP_TRANSPARENT)", errno);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"originalDst", NULL, original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setTransparent", NULL, set_transparent, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
