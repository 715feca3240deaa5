/* A UDP echo server for containers (busybox has none): udp-echo PORT [--name]. With --name
 * each answer starts with the container's hostname and a space, so a test can tell which
 * replica answered. Static, no libc deps at run time. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(argc > 1 ? atoi(argv[1]) : 7);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) return 1;
  char host[256] = "";
  int named = argc > 2 && strcmp(argv[2], "--name") == 0;
  if (named) gethostname(host, sizeof host - 1);
  for (;;) {
    char buf[2048], out[2400];
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
    if (n <= 0) continue;
    if (!named) {
      sendto(s, buf, n, 0, (struct sockaddr *)&peer, len);
      continue;
    }
    int m = snprintf(out, sizeof out, "%s %.*s", host, (int)n, buf);
    sendto(s, out, m, 0, (struct sockaddr *)&peer, len);
  }
}
