/*
 * berth-idle: a process that does nothing and ends with the daemon that started it
 * (PR_SET_PDEATHSIG). berthd moves it between two empty cgroups of its own while a container
 * is being created or an exec started (src/runtime/cgroup-warmer.ts): see there why.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  (void) argc;
  (void) argv;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return 1;
  /* the daemon may have ended before the line above */
  if (getppid() == 1) return 0;
  for (;;) pause();
}
