/*
 * berth's native helpers: mount(2) and umount2(2) for the daemon, so that mounting a
 * container's root filesystem does not spawn mount(8) and umount(8) (a few ms each); and
 * removeTree, a recursive removal done in one call (Node's fs.rm walks a tree with an async
 * call per entry, several per container run); sealedCopy, which keeps an OCI runtime's
 * binary in a sealed memfd (see there); and markTopDir, an allocation hint (see there).
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
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>

/* linux/fs.h's names, not the header: before glibc 2.36 it clashes with sys/mount.h */
#ifndef FS_IOC_GETFLAGS
#define FS_IOC_GETFLAGS _IOR('f', 1, long)
#define FS_IOC_SETFLAGS _IOW('f', 2, long)
#endif
#ifndef FS_TOPDIR_FL
#define FS_TOPDIR_FL 0x00020000
#endif

enum op { OP_MOUNT, OP_UMOUNT, OP_REMOVE_TREE };

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

/*
 * The mount a descriptor's file is on: its mount id where statx tells it (a bind mount of a
 * folder of the same file system has an id of its own), else its device.
 */
struct where {
  int by_mount;
  unsigned long long id;
};

static int where_is(int fd, struct where *w) {
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) == 0 && (sx.stx_mask & STATX_MNT_ID)) {
    w->by_mount = 1;
    w->id = sx.stx_mnt_id;
    return 0;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  w->by_mount = 0;
  w->id = st.st_dev;
  return 0;
}

/* deeper than this, the walk gives up with E2BIG and Node's fs.rm takes the tree */
#define MAX_DEPTH 256

/*
 * Empties the folder open as `dirfd` (which it closes), depth first, never following a
 * symbolic link and never entering another mount (a mount left in the tree is an EBUSY, not a
 * removal of what is mounted there). Returns 0 or an errno.
 */
static int empty_dir(int dirfd, const struct where *top, int depth) {
  if (depth > MAX_DEPTH) {
    close(dirfd);
    return E2BIG;
  }
  DIR *d = fdopendir(dirfd);
  if (!d) {
    int e = errno;
    close(dirfd);
    return e;
  }
  int err = 0;
  struct dirent *ent;
  while ((ent = readdir(d)) != NULL) {
    const char *name = ent->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    int is_dir = ent->d_type == DT_DIR;
    if (ent->d_type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) err = errno;
        continue;
      }
      is_dir = S_ISDIR(st.st_mode);
    }
    if (!is_dir) {
      if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) err = errno;
      continue;
    }
    int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      /* ELOOP here: a folder swapped for a link while we walked; it is not followed */
      if (errno != ENOENT) err = errno == ELOOP ? EBUSY : errno;
      continue;
    }
    struct where w;
    int we = where_is(sub, &w);
    if (we || w.by_mount != top->by_mount || w.id != top->id) {
      close(sub);
      err = we ? we : EBUSY;
      continue;
    }
    int e = empty_dir(sub, top, depth + 1);
    if (e) err = e;
    else if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) err = errno;
  }
  closedir(d);
  return err;
}

/* rm -rf: a missing path is no error */
static int remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : errno;
  if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 || errno == ENOENT ? 0 : errno;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : errno;
  /* the mount of what was opened, not of what lstat saw a moment before */
  struct where top;
  int e = where_is(fd, &top);
  if (e) {
    close(fd);
    return e;
  }
  e = empty_dir(fd, &top, 0);
  if (e) return e;
  return rmdir(path) == 0 || errno == ENOENT ? 0 : errno;
}

static void execute(napi_env env, void *data) {
  (void)env;
  struct work *w = data;
  if (w->op == OP_REMOVE_TREE) {
    w->err = remove_tree(w->target);
    return;
  }
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
    case ENOTEMPTY: return "ENOTEMPTY";
    case EISDIR: return "EISDIR";
    case E2BIG: return "E2BIG";
    case ENOTTY: return "ENOTTY";
    case EOPNOTSUPP: return "EOPNOTSUPP";
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
    const char *what = w->op == OP_MOUNT ? "mount" : w->op == OP_UMOUNT ? "umount" : "remove";
    snprintf(msg, sizeof msg, "%s %s: %s", what, w->target ? w->target : "", strerror(e));
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

/*
 * The one path argument of removeTree, sealedCopy and markTopDir (malloc'd); NULL, with a
 * TypeError naming `usage` thrown, when it is missing, not a string, or not absolute.
 */
static char *path_arg(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *p = argc < 1 ? NULL : string_arg(env, argv[0]);
  if (!p || p[0] != '/') {
    free(p);
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return p;
}

/* removeTree(path): Promise<void> */
static napi_value js_remove_tree(napi_env env, napi_callback_info info) {
  char *target = path_arg(env, info, "removeTree(path): an absolute path");
  if (!target) return NULL;
  struct work *w = calloc(1, sizeof *w);
  if (!w) {
    free(target);
    napi_throw_error(env, "ENOMEM", "removeTree: out of memory");
    return NULL;
  }
  w->op = OP_REMOVE_TREE;
  w->target = target;
  return queue(env, w);
}

/*
 * sealedCopy(path): a file descriptor of a sealed memfd holding a copy of the binary at
 * `path`, kept open by the daemon. An OCI runtime executed through /proc/<daemon>/fd/<fd>
 * finds itself in a memfd that nothing can write, which is the protection against
 * CVE-2019-5736 that runc and crun otherwise make at every command (crun bind-mounts itself
 * read-only and executes itself again: 1.5-2 ms of each create and exec here). The same
 * thing runc's memfd-bind does. Synchronous: it runs once, at start-up.
 */
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
static napi_value js_sealed_copy(napi_env env, napi_callback_info info) {
  char *src = path_arg(env, info, "sealedCopy(path): an absolute path");
  if (!src) return NULL;
  int err = 0;
  int in = open(src, O_RDONLY | O_CLOEXEC);
  /* MFD_EXEC: where vm.memfd_noexec asks for it, a memfd is otherwise made not executable */
  int fd = in < 0 ? -1 : memfd_create("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && in >= 0 && errno == EINVAL) fd = memfd_create("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (in < 0 || fd < 0) err = errno;
  char buf[65536];
  while (!err) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    for (ssize_t off = 0; off < n && !err;) {
      ssize_t w = write(fd, buf + off, n - off);
      if (w < 0 && errno != EINTR) err = errno;
      if (w > 0) off += w;
    }
  }
  if (!err && fcntl(fd, F_ADD_SEALS, SEALS) != 0) err = errno;
  if (in >= 0) close(in);
  if (err) {
    if (fd >= 0) close(fd);
    char msg[512];
    snprintf(msg, sizeof msg, "sealed copy of %s: %s", src, strerror(err));
    free(src);
    napi_value message, code, e;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
    napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, message, &e);
    napi_throw(env, e);
    return NULL;
  }
  free(src);
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/*
 * markTopDir(path): sets FS_TOPDIR_FL (chattr +T) on a directory, so that ext4's Orlov
 * allocator places each directory made in it in a block group of its own, as it does for
 * directories at the root of the file system. Synchronous (two ioctls, once at start-up).
 * Returns "" when set, else the errno name: file systems without the flag (tmpfs, xfs) say
 * ENOTTY or EOPNOTSUPP, and the caller treats it as the hint it is.
 */
static napi_value js_mark_top_dir(napi_env env, napi_callback_info info) {
  char *dir = path_arg(env, info, "markTopDir(path): an absolute path");
  if (!dir) return NULL;
  int err = 0;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int flags = 0;
  if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) err = errno;
  if (!err && !(flags & FS_TOPDIR_FL)) {
    flags |= FS_TOPDIR_FL;
    if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) err = errno;
  }
  if (fd >= 0) close(fd);
  free(dir);
  napi_value result;
  napi_create_string_utf8(env, err ? errno_name(err) : "", NAPI_AUTO_LENGTH, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"umount", NULL, js_umount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"removeTree", NULL, js_remove_tree, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sealedCopy", NULL, js_sealed_copy, NULL, NULL, NULL, napi_enumerable, NULL},
    {"markTopDir", NULL, js_mark_top_dir, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
