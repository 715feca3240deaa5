/*
 * berth's native helpers: mount(2) and umount2(2) for the daemon, so that mounting a
 * container's root filesystem does not spawn mount(8) and umount(8) (a few ms each).
 * Each call runs on libuv's thread pool and returns a promise; a failure rejects with an
 * Error whose `code` is the errno name (EBUSY, EINVAL, ...) and `errno` its number.
 *
 * Built by scripts/build-native.js against Node's own headers (node_api.h); the daemon
 * falls back to the commands when the addon is missing (src/native/index.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <node_api.h>

enum op { OP_MOUNT, OP_UMOUNT };

struct work {
  enum op op;
  char *source, *target, *fstype, *data;
  unsigned long flags;
  int err;
  napi_deferred deferred;
  napi_async_work async;
};

static char *string_arg(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return NULL;
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static void execute(napi_env env, void *data) {
  (void)env;
  struct work *w = data;
  int rc = w->op == OP_MOUNT ? mount(w->source, w->target, w->fstype, w->flags, w->data) : umount2(w->target, (int)w->flags);
  w->err = rc == 0 ? 0 : errno;
}

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EACCES: return "EACCES";
    case ENOTDIR: return "ENOTDIR";
    case ENODEV: return "ENODEV";
    case ENOMEM: return "ENOMEM";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EFAULT: return "EFAULT";
    case EMFILE: return "EMFILE";
    case ENOTBLK: return "ENOTBLK";
    case ENXIO: return "ENXIO";
    case EROFS: return "EROFS";
    case ESTALE: return "ESTALE";
    default: return "EUNKNOWN";
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  struct work *w = data;
  if (status == napi_ok && w->err == 0) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, w->deferred, undef);
  } else {
    int e = status == napi_ok ? w->err : ECANCELED;
    char msg[512];
    snprintf(msg, sizeof msg, "%s %s: %s", w->op == OP_MOUNT ? "mount" : "umount", w->target ? w->target : "", strerror(e));
    napi_value message, code, err, num;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
    napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, message, &err);
    napi_create_int32(env, e, &num);
    napi_set_named_property(env, err, "errno", num);
    napi_reject_deferred(env, w->deferred, err);
  }
  napi_delete_async_work(env, w->async);
  free(w->source);
  free(w->target);
  free(w->fstype);
  free(w->data);
  free(w);
}

static napi_value queue(napi_env env, struct work *w) {
  napi_value promise, name;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "berth-mount", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, w, &w->async);
  napi_queue_async_work(env, w->async);
  return promise;
}

/* mount(source, target, fstype, flags, data): Promise<void> */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "mount(source, target, fstype, flags, data)");
    return NULL;
  }
  struct work *w = calloc(1, sizeof *w);
  w->op = OP_MOUNT;
  w->source = string_arg(env, argv[0]);
  w->target = string_arg(env, argv[1]);
  w->fstype = string_arg(env, argv[2]);
  w->data = string_arg(env, argv[4]);
  double flags = 0;
  napi_get_value_double(env, argv[3], &flags);
  w->flags = (unsigned long)flags;
  if (!w->source || !w->target || !w->fstype || !w->data) {
    free(w->source), free(w->target), free(w->fstype), free(w->data), free(w);
    napi_throw_type_error(env, NULL, "mount: source, target, fstype and data are strings");
    return NULL;
  }
  return queue(env, w);
}

/* umount(target, flags): Promise<void> */
static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "umount(target, flags)");
    return NULL;
  }
  struct work *w = calloc(1, sizeof *w);
  w->op = OP_UMOUNT;
  w->target = string_arg(env, argv[0]);
  double flags = 0;
  napi_get_value_double(env, argv[1], &flags);
  w->flags = (unsigned long)flags;
  if (!w->target) {
    free(w);
    napi_throw_type_error(env, NULL, "umount: target is a string");
    return NULL;
  }
  return queue(env, w);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"umount", NULL, js_umount, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
