/*
 * hms-native, the operating system's part: what Node does not offer and hms needs for "one
 * writer, checked on the kernel's word of who asks" (ARCHITECTURE.md):
 *
 * - peerCredentials(fd): the pid, uid and gid of the process at the other end of a connected
 *   Unix socket, as the kernel recorded them at connect() (SO_PEERCRED, socket(7), unix(7)).
 * - lockExclusive(fd): an exclusive flock(2) on an open file, without waiting; true when
 *   taken, false when another open file description holds it. The lock goes with the file
 *   description: closed or the process gone, the kernel releases it (no stale lock files).
 *
 * Linux only (SO_PEERCRED); hms runs on Debian.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/types.h>

static napi_value throw_errno(napi_env env, const char *call, int err) {
  char text[160];
  snprintf(text, sizeof text, "%s: %s", call, strerror(err));
  napi_throw_error(env, NULL, text);
  return NULL;
}

static int fd_argument(napi_env env, napi_callback_info info, int *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) {
    napi_throw_type_error(env, NULL, "expected one argument: a file descriptor");
    return 0;
  }
  int32_t value;
  if (napi_get_value_int32(env, argv[0], &value) != napi_ok || value < 0) {
    napi_throw_type_error(env, NULL, "the file descriptor must be a non-negative integer");
    return 0;
  }
  *fd = value;
  return 1;
}

static napi_value set_number(napi_env env, napi_value object, const char *name, double number) {
  napi_value value;
  napi_create_double(env, number, &value);
  napi_set_named_property(env, object, name, value);
  return object;
}

static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_argument(env, info, &fd)) return NULL;
  struct ucred cred;
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return throw_errno(env, "getsockopt(SO_PEERCRED)", errno);
  if (length != sizeof cred) {
    napi_throw_error(env, NULL, "getsockopt(SO_PEERCRED): short answer");
    return NULL;
  }
  napi_value result;
  napi_create_object(env, &result);
  set_number(env, result, "pid", cred.pid);
  set_number(env, result, "uid", cred.uid);
  set_number(env, result, "gid", cred.gid);
  return result;
}

static napi_value lock_exclusive(napi_env env, napi_callback_info info) {
  int fd;
  if (!fd_argument(env, info, &fd)) return NULL;
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB); while (rc != 0 && errno == EINTR);
  napi_value result;
  if (rc == 0) {
    napi_get_boolean(env, 1, &result);
    return result;
  }
  if (errno == EWOULDBLOCK) {
    napi_get_boolean(env, 0, &result);
    return result;
  }
  return throw_errno(env, "flock", errno);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
    {"peerCredentials", NULL, peer_credentials, NULL, NULL, NULL, napi_default, NULL},
    {"lockExclusive", NULL, lock_exclusive, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
