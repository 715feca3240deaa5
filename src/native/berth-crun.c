/*
 * berth-crun: runs crun (the path in $BERTH_CRUN, else `crun` from $PATH) with the same
 * arguments, on a host whose cgroups crun would otherwise refuse.
 *
 * On a "hybrid" host (cgroup v1 controllers under a tmpfs at /sys/fs/cgroup, plus a cgroup2
 * mount at /sys/fs/cgroup/unified) crun 1.x gives up with "cgroups in hybrid mode not
 * supported, drop all controllers from cgroupv2" as soon as the unified hierarchy lists any
 * controller, and a controller that no v1 hierarchy mounts (hugetlb, often) lands there.
 * runc uses the v1 controllers on such a host and leaves that one alone. This launcher
 * lets crun do the same: in a mount namespace of its own, where /sys/fs/cgroup is private
 * (so nothing done here reaches the host), it covers the unified mount with an empty tmpfs.
 * crun then finds a plain cgroup v1 host; the cgroup it makes "in the unified hierarchy"
 * lands in that tmpfs and goes with the namespace. (Unmounting the unified mount instead
 * would uncover the host's /sys/fs/cgroup tmpfs beneath it, and crun's folders would stay
 * there, hidden under the host's mount, for ever.) Every other mount stays shared with the
 * host's namespace exactly as before, so what crun mounts for a container propagates as it
 * would have.
 *
 * berthd runs every crun command through it (create and exec through conmon, the others
 * itself), so crun always sees the same host. Elsewhere (cgroup v2, plain v1, a hybrid host
 * whose unified hierarchy holds no controller) it only execs crun.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#define TMPFS_MAGIC 0x01021994
#define CGROUP2_SUPER_MAGIC 0x63677270

static int unified_holds_controllers(void) {
  struct statfs fs;
  if (statfs("/sys/fs/cgroup", &fs) != 0 || fs.f_type != TMPFS_MAGIC) return 0;
  if (statfs("/sys/fs/cgroup/unified", &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC) return 0;
  int fd = open("/sys/fs/cgroup/unified/cgroup.controllers", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char c;
  ssize_t n = read(fd, &c, 1);
  close(fd);
  return n > 0 && c != '\n';
}

int main(int argc, char **argv) {
  (void) argc;
  const char *crun = getenv("BERTH_CRUN");
  if (crun == NULL || *crun == '\0') crun = "crun";
  if (unified_holds_controllers()) {
    if (unshare(CLONE_NEWNS) != 0) {
      fprintf(stderr, "berth-crun: unshare(CLONE_NEWNS): %s\n", strerror(errno));
      return 125;
    }
    if (mount(NULL, "/sys/fs/cgroup", NULL, MS_REC | MS_PRIVATE, NULL) != 0 || mount("none", "/sys/fs/cgroup/unified", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=755") != 0) {
      fprintf(stderr, "berth-crun: covering /sys/fs/cgroup/unified: %s\n", strerror(errno));
      return 125;
    }
  }
  argv[0] = (char *) crun;
  execvp(crun, argv);
  fprintf(stderr, "berth-crun: exec %s: %s\n", crun, strerror(errno));
  return 127;
}
