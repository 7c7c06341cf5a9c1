/* A DNS-over-TLS client for tests/bench/dot.sh, so the client's own cost
 * stays small next to the server's (a Python client spends more per
 * handshake than the server it measures).
 *
 *   tls_client connect HOST PORT SECONDS RESUME PARALLEL
 *     PARALLEL processes open connections one after another for SECONDS:
 *     handshake, one query for www.bench.test, its answer, close. With
 *     RESUME = 1 each offers the session of its previous connection (TLS 1.3
 *     tickets arrive before the answer, so reading it stores them). Prints
 *     "connections N reused M seconds S".
 *   tls_client idle HOST PORT N
 *     Opens N connections, one query answered on each, prints "ready N" and
 *     holds them until stdin closes.
 *
 * Loopback only, no certificate check (the bench's own self-signed one). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const unsigned char kQuery[] = {
    0, 32,                                                   /* DoT length */
    0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,          /* header, RD */
    3, 'w', 'w', 'w', 5, 'b', 'e', 'n', 'c', 'h', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int tcp_connect(const char* host, int port) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  inet_pton(AF_INET, host, &a.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (fd < 0 || connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    perror("connect");
    exit(1);
  }
  return fd;
}

/* Handshake, one query, its whole answer; NULL on a failure. */
static SSL* ask(SSL_CTX* ctx, const char* host, int port, SSL_SESSION* offer) {
  int fd = tcp_connect(host, port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "dns.bench.test");
  if (offer) SSL_set_session(ssl, offer);
  unsigned char buf[4096];
  if (SSL_connect(ssl) != 1 || SSL_write(ssl, kQuery, sizeof kQuery) != (int)sizeof kQuery) goto fail;
  int got = 0, want = -1;
  while (want < 0 || got < want) {
    int n = SSL_read(ssl, buf + got, (int)sizeof buf - got);
    if (n <= 0) goto fail;
    got += n;
    if (want < 0 && got >= 2) want = 2 + (buf[0] << 8 | buf[1]);
    if (want > (int)sizeof buf) goto fail;
  }
  return ssl;
fail:
  ERR_print_errors_fp(stderr);
  SSL_free(ssl);
  close(fd);
  return NULL;
}

static void drop(SSL* ssl) {
  int fd = SSL_get_fd(ssl);
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
}

static SSL_CTX* client_ctx(void) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  return ctx;
}

static int run_connect(const char* host, int port, double seconds, int resume, int parallel) {
  int pipes[2];
  if (pipe(pipes) != 0) return 1;
  double start = now();
  for (int p = 0; p < parallel; ++p) {
    if (fork() != 0) continue;
    SSL_CTX* ctx = client_ctx();
    SSL_SESSION* session = NULL;
    long done = 0, reused = 0, failed = 0;
    /* Bounded by the clock and by a count no loopback run reaches. */
    for (long i = 0; i < 10000000 && now() - start < seconds; ++i) {
      SSL* ssl = ask(ctx, host, port, resume ? session : NULL);
      if (!ssl) {
        if (++failed > 100) break;
        continue;
      }
      ++done;
      if (SSL_session_reused(ssl)) ++reused;
      if (resume) {
        SSL_SESSION_free(session);
        session = SSL_get1_session(ssl);
      }
      drop(ssl);
    }
    long counts[3] = {done, reused, failed};
    if (write(pipes[1], counts, sizeof counts) != sizeof counts) _exit(1);
    _exit(0);
  }
  close(pipes[1]);
  long total[3] = {0, 0, 0}, counts[3];
  while (read(pipes[0], counts, sizeof counts) == sizeof counts)
    for (int i = 0; i < 3; ++i) total[i] += counts[i];
  while (wait(NULL) > 0) {
  }
  printf("connections %ld reused %ld failed %ld seconds %.2f\n", total[0], total[1], total[2], now() - start);
  return 0;
}

/* Fifty processes open their share at once, so the handshakes overlap (one
 * after another, a loaded machine's latency would make 10,000 take minutes). */
static int run_idle(const char* host, int port, int n) {
  enum { kProcesses = 50 };
  int pipes[2];
  if (pipe(pipes) != 0) return 1;
  for (int p = 0; p < kProcesses; ++p) {
    if (fork() != 0) continue;
    int share = n / kProcesses + (p < n % kProcesses);
    SSL_CTX* ctx = client_ctx();
    SSL** held = calloc((size_t)share + 1, sizeof *held);
    char ok = 1;
    for (int i = 0; i < share && ok; ++i) ok = (held[i] = ask(ctx, host, port, NULL)) != NULL;
    if (write(pipes[1], &ok, 1) != 1) _exit(1);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
    }
    _exit(0);
  }
  close(pipes[1]);
  int opened = 0;
  char ok;
  for (int p = 0; p < kProcesses && read(pipes[0], &ok, 1) == 1; ++p) opened += ok;
  if (opened != kProcesses) {
    fprintf(stderr, "%d of %d processes failed to open their connections\n", kProcesses - opened, kProcesses);
    while (wait(NULL) > 0) {
    }
    return 1;
  }
  printf("ready %d\n", n);
  fflush(stdout);
  while (wait(NULL) > 0) {
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 7 && strcmp(argv[1], "connect") == 0)
    return run_connect(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]), atoi(argv[6]));
  if (argc == 5 && strcmp(argv[1], "idle") == 0) return run_idle(argv[2], atoi(argv[3]), atoi(argv[4]));
  fprintf(stderr, "usage: tls_client connect HOST PORT SECONDS RESUME PARALLEL | idle HOST PORT N\n");
  return 2;
}
