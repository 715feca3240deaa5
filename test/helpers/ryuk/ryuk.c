/*
 * A resource reaper that speaks testcontainers' Ryuk protocol, for machines that cannot pull
 * testcontainers/ryuk. The tests build it into an image of their own and name that image in
 * RYUK_CONTAINER_IMAGE.
 *
 * The protocol, as the testcontainers libraries use it:
 *   - the reaper listens on TCP port RYUK_PORT (8080) and prints a line with "Started" once it
 *     does (the library waits for that log line);
 *   - a client connects and sends lines of filters in URL query form
 *     ("label=org.testcontainers.session-id=abc&label=x"); each line is answered "ACK\n";
 *   - while any client is connected nothing happens. When the last one has gone (or none came
 *     within RYUK_CONNECTION_TIMEOUT), the reaper waits RYUK_RECONNECTION_TIMEOUT for a new one,
 *     then removes every container (forced, with its anonymous volumes), network, volume and
 *     image that matches any filter it was sent, through the Engine API on the daemon's socket
 *     (mounted at /var/run/docker.sock), and exits.
 *   - containers labelled org.testcontainers.ryuk=true (the reaper itself) are never removed.
 *
 * Plain C and static, so the image needs nothing but this one file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define LINE_MAX_BYTES 65536

/* ---- small growable buffers and lists ---- */

struct buf {
  char *data;
  size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (b->len + n + 1 > cap) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) abort();
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_printf(struct buf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

struct list {
  char **items;
  size_t len;
};

static int list_has(const struct list *l, const char *s) {
  for (size_t i = 0; i < l->len; i++)
    if (strcmp(l->items[i], s) == 0) return 1;
  return 0;
}

/* takes ownership of s; drops duplicates */
static void list_add(struct list *l, char *s) {
  if (list_has(l, s)) {
    free(s);
    return;
  }
  l->items = realloc(l->items, (l->len + 1) * sizeof *l->items);
  if (!l->items) abort();
  l->items[l->len++] = s;
}

static int verbose;

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A Go duration ("10s", "1m30s", "500ms", "1.5s") in milliseconds; `fallback` when unset or bad. */
static long long parse_duration_ms(const char *text, long long fallback) {
  if (!text || !*text) return fallback;
  double total = 0;
  const char *p = text;
  while (*p) {
    char *end;
    double v = strtod(p, &end);
    if (end == p) return fallback;
    p = end;
    double unit;
    if (strncmp(p, "ns", 2) == 0) unit = 1e-6, p += 2;
    else if (strncmp(p, "us", 2) == 0 || strncmp(p, "\xc2\xb5s", 3) == 0) unit = 1e-3, p += (*p == 'u' ? 2 : 3);
    else if (strncmp(p, "ms", 2) == 0) unit = 1, p += 2;
    else if (*p == 's') unit = 1000, p += 1;
    else if (*p == 'm') unit = 60000, p += 1;
    else if (*p == 'h') unit = 3600000, p += 1;
    else return fallback;
    total += v * unit;
  }
  return (long long)total;
}

/* ---- filters: URL query lines → Engine API filter JSON ---- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* percent-decoding as a URL query does it ('+' is a space); NULL when an escape is broken */
static char *query_unescape(const char *s, size_t n) {
  char *out = malloc(n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '+') out[o++] = ' ';
    else if (s[i] == '%') {
      int hi = i + 1 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) { free(out); return NULL; }
      out[o++] = (char)(hi * 16 + lo);
      i += 2;
    } else out[o++] = s[i];
  }
  out[o] = 0;
  return out;
}

static void json_string(struct buf *b, const char *s) {
  buf_str(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') { buf_add(b, "\\", 1); buf_add(b, (const char *)&c, 1); }
    else if (c < 0x20) buf_printf(b, "\\u%04x", c);
    else buf_add(b, (const char *)&c, 1);
  }
  buf_str(b, "\"");
}

/*
 * "label=a=b&label=c&health=unhealthy" → {"label":["a=b","c"],"health":["unhealthy"]}.
 * NULL when the line is not a query.
 */
static char *filter_json(const char *line) {
  struct list keys = {0}, values = {0}; /* parallel: values[i] belongs to keys[i] */
  const char *p = line;
  while (*p) {
    const char *amp = strchr(p, '&');
    size_t n = amp ? (size_t)(amp - p) : strlen(p);
    if (n) {
      const char *eq = memchr(p, '=', n);
      char *k = query_unescape(p, eq ? (size_t)(eq - p) : n);
      char *v = eq ? query_unescape(eq + 1, n - (size_t)(eq - p) - 1) : strdup("");
      if (!k || !v || !*k) { free(k); free(v); return NULL; }
      keys.items = realloc(keys.items, (keys.len + 1) * sizeof(char *));
      values.items = realloc(values.items, (values.len + 1) * sizeof(char *));
      keys.items[keys.len++] = k;
      values.items[values.len++] = v;
    }
    p += n + (amp ? 1 : 0);
  }
  if (!keys.len) return NULL;
  struct buf b = {0};
  buf_str(&b, "{");
  int first_key = 1;
  for (size_t i = 0; i < keys.len; i++) {
    int seen = 0;
    for (size_t j = 0; j < i; j++) seen |= strcmp(keys.items[j], keys.items[i]) == 0;
    if (seen) continue;
    if (!first_key) buf_str(&b, ",");
    first_key = 0;
    json_string(&b, keys.items[i]);
    buf_str(&b, ":[");
    int first_value = 1;
    for (size_t j = i; j < keys.len; j++) {
      if (strcmp(keys.items[j], keys.items[i]) != 0) continue;
      if (!first_value) buf_str(&b, ",");
      first_value = 0;
      json_string(&b, values.items[j]);
    }
    buf_str(&b, "]");
  }
  buf_str(&b, "}");
  for (size_t i = 0; i < keys.len; i++) { free(keys.items[i]); free(values.items[i]); }
  free(keys.items);
  free(values.items);
  return b.data;
}

static char *url_escape(const char *s) {
  struct buf b = {0};
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-_.~", c)) buf_add(&b, (const char *)&c, 1);
    else buf_printf(&b, "%%%02X", c);
  }
  if (!b.data) buf_str(&b, "");
  return b.data;
}

/* ---- the Engine API over the daemon's unix socket ---- */

static const char *docker_socket = "/var/run/docker.sock";

struct response {
  int status;
  struct buf body;
};

static void dechunk(struct buf *body) {
  struct buf out = {0};
  const char *p = body->data, *end = body->data + body->len;
  while (p < end) {
    char *line_end;
    long size = strtol(p, &line_end, 16);
    const char *data = strstr(line_end, "\r\n");
    if (!data || size <= 0) break;
    data += 2;
    if (data + size > end) size = end - data;
    buf_add(&out, data, (size_t)size);
    p = data + size + 2;
  }
  free(body->data);
  if (!out.data) buf_str(&out, "");
  *body = out;
}

/* One request with an empty body; status 0 when the daemon could not be reached. */
static struct response api(const char *method, const char *path) {
  struct response r = {0};
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, docker_socket, sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    if (fd >= 0) close(fd);
    say("cannot reach the daemon at %s: %s", docker_socket, strerror(errno));
    return r;
  }
  struct buf req = {0};
  buf_printf(&req, "%s ", method);
  buf_str(&req, path);
  buf_str(&req, " HTTP/1.1\r\nHost: docker\r\nUser-Agent: berth-ryuk\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  for (size_t off = 0; off < req.len;) {
    ssize_t n = write(fd, req.data + off, req.len - off);
    if (n <= 0) break;
    off += (size_t)n;
  }
  free(req.data);
  struct buf raw = {0};
  char chunk[8192];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) > 0) buf_add(&raw, chunk, (size_t)n);
  close(fd);
  if (!raw.data) return r;
  sscanf(raw.data, "HTTP/%*s %d", &r.status);
  char *head_end = strstr(raw.data, "\r\n\r\n");
  if (head_end) {
    *head_end = 0;
    int chunked = strcasestr(raw.data, "\r\ntransfer-encoding: chunked") != NULL;
    buf_add(&r.body, head_end + 4, raw.len - (size_t)(head_end + 4 - raw.data));
    if (chunked) dechunk(&r.body);
  }
  if (!r.body.data) buf_str(&r.body, "");
  free(raw.data);
  return r;
}

/* ---- just enough JSON to read ids out of list answers ---- */

struct json {
  const char *p, *end;
};

static void json_ws(struct json *j) {
  while (j->p < j->end && strchr(" \t\r\n", *j->p)) j->p++;
}

static int json_peek(struct json *j, char c) {
  json_ws(j);
  return j->p < j->end && *j->p == c;
}

static int json_eat(struct json *j, char c) {
  if (!json_peek(j, c)) return 0;
  j->p++;
  return 1;
}

/* a string, decoded (\uXXXX outside ASCII becomes '?': ids and names are ASCII) */
static char *json_read_string(struct json *j) {
  if (!json_eat(j, '"')) return NULL;
  struct buf b = {0};
  while (j->p < j->end && *j->p != '"') {
    char c = *j->p++;
    if (c == '\\' && j->p < j->end) {
      char e = *j->p++;
      if (e == 'u') {
        unsigned v = 0;
        for (int i = 0; i < 4 && j->p < j->end; i++) v = v * 16 + (unsigned)(hexval(*j->p++) & 15);
        c = v < 0x80 ? (char)v : '?';
      } else c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
    }
    buf_add(&b, &c, 1);
  }
  if (j->p < j->end) j->p++;
  if (!b.data) buf_str(&b, "");
  return b.data;
}

static int json_skip(struct json *j) {
  json_ws(j);
  if (j->p >= j->end) return 0;
  if (*j->p == '"') {
    free(json_read_string(j));
    return 1;
  }
  if (*j->p == '{' || *j->p == '[') {
    char close_c = *j->p == '{' ? '}' : ']';
    j->p++;
    if (json_eat(j, close_c)) return 1;
    do {
      if (close_c == '}') {
        free(json_read_string(j));
        if (!json_eat(j, ':')) return 0;
      }
      if (!json_skip(j)) return 0;
    } while (json_eat(j, ','));
    return json_eat(j, close_c);
  }
  while (j->p < j->end && !strchr(",]} \t\r\n", *j->p)) j->p++;
  return 1;
}

/*
 * Reads an array of objects, adding each object's `field` to `out`; objects whose Labels hold
 * org.testcontainers.ryuk=true are passed over when `skip_reapers` is set.
 */
static int json_collect(struct json *j, const char *field, int skip_reapers, struct list *out) {
  if (!json_eat(j, '[')) return 0;
  if (json_eat(j, ']')) return 1;
  do {
    if (!json_eat(j, '{')) return 0;
    char *value = NULL;
    int reaper = 0;
    if (!json_eat(j, '}')) {
      do {
        char *key = json_read_string(j);
        if (!key || !json_eat(j, ':')) { free(key); free(value); return 0; }
        if (strcmp(key, field) == 0 && json_peek(j, '"')) {
          free(value);
          value = json_read_string(j);
        } else if (strcmp(key, "Labels") == 0 && json_peek(j, '{')) {
          j->p++;
          if (!json_eat(j, '}')) {
            do {
              char *lk = json_read_string(j);
              if (!lk || !json_eat(j, ':')) { free(lk); free(key); free(value); return 0; }
              char *lv = json_peek(j, '"') ? json_read_string(j) : NULL;
              if (!lv) json_skip(j);
              if (strcmp(lk, "org.testcontainers.ryuk") == 0 && lv && strcmp(lv, "true") == 0) reaper = 1;
              free(lk);
              free(lv);
            } while (json_eat(j, ','));
            if (!json_eat(j, '}')) { free(key); free(value); return 0; }
          }
        } else if (!json_skip(j)) { free(key); free(value); return 0; }
        free(key);
      } while (json_eat(j, ','));
      if (!json_eat(j, '}')) { free(value); return 0; }
    }
    if (value && !(reaper && skip_reapers)) list_add(out, value);
    else free(value);
  } while (json_eat(j, ','));
  return json_eat(j, ']');
}

/* ---- pruning ---- */

struct kind {
  const char *name;
  const char *list_path;   /* followed by the escaped filters */
  const char *array_key;   /* the list is under this key of an object, or NULL for a bare array */
  const char *id_field;
  const char *delete_query;
};

static const struct kind KINDS[] = {
    {"container", "/containers/json?all=1&filters=", NULL, "Id", "?force=1&v=1"},
    {"network", "/networks?filters=", NULL, "Id", ""},
    {"volume", "/volumes?filters=", "Volumes", "Name", "?force=1"},
    {"image", "/images/json?filters=", NULL, "Id", ""},
};

static void find_matches(const struct kind *k, const char *escaped_filters, struct list *out) {
  struct buf path = {0};
  buf_str(&path, k->list_path);
  buf_str(&path, escaped_filters);
  struct response r = api("GET", path.data);
  free(path.data);
  if (r.status != 200) {
    say("listing %ss failed: %d %s", k->name, r.status, r.body.data ? r.body.data : "");
    free(r.body.data);
    return;
  }
  struct json j = {r.body.data, r.body.data + r.body.len};
  if (k->array_key) {
    int found = 0;
    if (json_eat(&j, '{')) {
      do {
        char *key = json_read_string(&j);
        if (!key || !json_eat(&j, ':')) { free(key); break; }
        if (strcmp(key, k->array_key) == 0 && json_peek(&j, '[')) {
          found = json_collect(&j, k->id_field, 0, out);
          free(key);
          break;
        }
        free(key);
        if (!json_skip(&j)) break;
      } while (json_eat(&j, ','));
    }
    if (!found && verbose) say("no %s list in the answer", k->name);
  } else if (!json_collect(&j, k->id_field, 1, out)) {
    say("cannot read the %s list", k->name);
  }
  free(r.body.data);
}

static int remove_all(const struct kind *k, const struct list *ids) {
  int removed = 0;
  for (size_t i = 0; i < ids->len; i++) {
    char *id = url_escape(ids->items[i]);
    struct buf path = {0};
    buf_printf(&path, "/%ss/", k->name);
    buf_str(&path, id);
    buf_str(&path, k->delete_query);
    struct response r = api("DELETE", path.data);
    if (r.status >= 200 && r.status < 300) removed++;
    else if (r.status != 404) say("removing %s %s failed: %d %s", k->name, ids->items[i], r.status, r.body.data ? r.body.data : "");
    free(id);
    free(path.data);
    free(r.body.data);
  }
  return removed;
}

static void prune(const struct list *filters) {
  int removed[4] = {0};
  /* containers first: their networks and volumes are in use until they are gone */
  for (size_t k = 0; k < sizeof KINDS / sizeof *KINDS; k++) {
    struct list ids = {0};
    for (size_t f = 0; f < filters->len; f++) {
      char *json = filter_json(filters->items[f]);
      if (!json) continue;
      char *escaped = url_escape(json);
      if (verbose) say("listing %ss matching %s", KINDS[k].name, json);
      find_matches(&KINDS[k], escaped, &ids);
      free(escaped);
      free(json);
    }
    removed[k] = remove_all(&KINDS[k], &ids);
    for (size_t i = 0; i < ids.len; i++) free(ids.items[i]);
    free(ids.items);
  }
  say("Removed %d container(s), %d network(s), %d volume(s), %d image(s)", removed[0], removed[1], removed[2], removed[3]);
}

/* ---- the session listener ---- */

struct client {
  int fd;
  struct buf pending;
};

static volatile sig_atomic_t stopping;

static void on_stop(int sig) {
  (void)sig;
  stopping = 1;
}

static int listen_on(int port) {
  int one = 1, zero = 0;
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
    if (bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0 && listen(fd, 64) == 0) return fd;
    close(fd);
  }
  /* a container without IPv6 */
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(fd, (struct sockaddr *)&a4, sizeof a4) < 0 || listen(fd, 64) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Takes the complete lines out of a client's bytes; 0 when the client must be dropped. */
static int take_lines(struct client *c, struct list *filters) {
  char *start = c->pending.data, *nl;
  while ((nl = memchr(start, '\n', c->pending.len - (size_t)(start - c->pending.data)))) {
    *nl = 0;
    if (nl > start && nl[-1] == '\r') nl[-1] = 0;
    if (*start) {
      char *json = filter_json(start);
      if (json) {
        if (!list_has(filters, start)) say("Adding filter %s", json);
        list_add(filters, strdup(start));
        free(json);
      } else say("not a filter: %s", start);
      /* answered either way, as Ryuk does, so a client never hangs on a bad line */
      if (write(c->fd, "ACK\n", 4) != 4) return 0;
    }
    start = nl + 1;
  }
  size_t rest = c->pending.len - (size_t)(start - c->pending.data);
  memmove(c->pending.data, start, rest);
  c->pending.len = rest;
  c->pending.data[rest] = 0;
  return rest <= LINE_MAX_BYTES;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *host = getenv("DOCKER_HOST");
  if (host && strncmp(host, "unix://", 7) == 0) docker_socket = host + 7;
  verbose = getenv("RYUK_VERBOSE") && strcmp(getenv("RYUK_VERBOSE"), "true") == 0;
  int port = getenv("RYUK_PORT") ? atoi(getenv("RYUK_PORT")) : 8080;
  long long connection_timeout = parse_duration_ms(getenv("RYUK_CONNECTION_TIMEOUT"), 60000);
  long long reconnection_timeout = parse_duration_ms(getenv("RYUK_RECONNECTION_TIMEOUT"), 10000);

  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_stop};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  struct response ping = api("GET", "/_ping");
  free(ping.body.data);
  if (ping.status != 200) {
    say("the daemon did not answer /_ping on %s", docker_socket);
    return 1;
  }
  int listener = listen_on(port);
  if (listener < 0) {
    say("cannot listen on port %d: %s", port, strerror(errno));
    return 1;
  }
  say("Started on port %d", port);

  struct client clients[MAX_CLIENTS];
  int nclients = 0;
  struct list filters = {0};
  long long deadline = now_ms() + connection_timeout;

  while (!stopping) {
    struct pollfd fds[MAX_CLIENTS + 1];
    fds[0] = (struct pollfd){.fd = listener, .events = POLLIN};
    for (int i = 0; i < nclients; i++) fds[i + 1] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
    int wait = -1;
    if (nclients == 0) {
      long long left = deadline - now_ms();
      if (left <= 0) {
        say("Timed out waiting for a connection");
        break;
      }
      wait = left > 60000 ? 60000 : (int)left;
    }
    if (poll(fds, (nfds_t)nclients + 1, wait) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = nclients - 1; i >= 0; i--) {
      if (!(fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char chunk[4096];
      ssize_t n = read(clients[i].fd, chunk, sizeof chunk);
      int keep = n > 0;
      if (keep) {
        buf_add(&clients[i].pending, chunk, (size_t)n);
        keep = take_lines(&clients[i], &filters);
      }
      if (!keep) {
        close(clients[i].fd);
        free(clients[i].pending.data);
        clients[i] = clients[--nclients];
        if (verbose) say("client gone, %d left", nclients);
        if (nclients == 0) deadline = now_ms() + reconnection_timeout;
      }
    }
    if (fds[0].revents & POLLIN) {
      int fd = accept(listener, NULL, NULL);
      if (fd >= 0 && nclients < MAX_CLIENTS) {
        clients[nclients++] = (struct client){.fd = fd};
        buf_str(&clients[nclients - 1].pending, "");
        if (verbose) say("client connected, %d now", nclients);
      } else if (fd >= 0) close(fd);
    }
  }
  /* no new sessions from here on: a client that comes now retries and gets a new reaper */
  close(listener);
  for (int i = 0; i < nclients; i++) close(clients[i].fd);
  prune(&filters);
  return 0;
}
