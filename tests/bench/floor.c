/* floor.c - the kernel's ceiling for a UDP DNS server on this machine.
 *
 * A do-nothing DNS responder: recvmmsg() a batch of datagrams, turn each
 * into a response by setting QR (and RA), clearing RCODE to NOERROR and
 * keeping the question, then sendmmsg() the batch back.  No parsing beyond
 * the 12-byte header, no allocation, no cache.  Whatever a real server
 * reaches is measured against this.
 *
 * Usage: floor [-l ADDR] [-p PORT] [-t THREADS]
 *   Listens on ADDR:PORT (default 127.0.0.1:5300).  With -t N, N threads
 *   each own a SO_REUSEPORT socket on the same address.  Loopback only:
 *   it refuses to bind to anything but 127.0.0.0/8.
 *
 * Build: cc -O2 -pthread -o floor floor.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define BUFSZ 1500

static struct sockaddr_in g_addr;

static int open_socket(int reuseport)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    int one = 1;
    /* Only with several threads: a lone socket must fail to bind if anyone
     * else (e.g. another SO_REUSEPORT server) already holds the port. */
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        perror("SO_REUSEPORT");
        exit(1);
    }
    int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (bind(fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0) {
        perror("bind");
        exit(1);
    }
    return fd;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static __thread unsigned char bufs[BATCH][BUFSZ];
    static __thread struct sockaddr_storage peers[BATCH];
    static __thread struct iovec iov[BATCH];
    static __thread struct mmsghdr msgs[BATCH];

    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = BUFSZ;
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &peers[i];
            msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
        }
        /* Block for the first datagram, then take whatever else is queued. */
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("recvmmsg");
            exit(1);
        }
        int out = 0;
        for (int i = 0; i < n; i++) {
            unsigned len = msgs[i].msg_len;
            if (len < 12)
                continue;               /* not DNS: drop */
            unsigned char *p = bufs[i];
            if (p[2] & 0x80)
                continue;               /* already a response: drop */
            p[2] |= 0x80;               /* QR = 1, keep opcode, RD */
            p[3] = (unsigned char)((p[3] & 0x70) | 0x80); /* RA = 1, RCODE = 0 */
            /* Keep the question, drop any answer/authority/additional. */
            p[6] = p[7] = p[8] = p[9] = p[10] = p[11] = 0;
            unsigned qd = ((unsigned)p[4] << 8) | p[5];
            unsigned end = 12;
            for (unsigned q = 0; q < qd && end < len; q++) {
                while (end < len && p[end] != 0) {
                    if ((p[end] & 0xc0) == 0xc0) {
                        end += 1;
                        break;
                    }
                    end += p[end] + 1u;
                }
                end += 1 + 4;           /* root/pointer byte + type + class */
            }
            if (end > len)
                end = len;
            iov[out].iov_base = p;
            iov[out].iov_len = end;
            if (out != i) {
                msgs[out].msg_hdr.msg_name = &peers[i];
            }
            msgs[out].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
            msgs[out].msg_hdr.msg_iov = &iov[out];
            msgs[out].msg_hdr.msg_iovlen = 1;
            out++;
        }
        int sent = 0;
        while (sent < out) {
            int r = sendmmsg(fd, msgs + sent, (unsigned)(out - sent), 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                break;                  /* e.g. ENOBUFS: drop the rest */
            }
            sent += r;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 5300, threads = 1, opt;
    while ((opt = getopt(argc, argv, "l:p:t:")) != -1) {
        switch (opt) {
        case 'l': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-l ADDR] [-p PORT] [-t THREADS]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "bad thread count\n");
        return 2;
    }
    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1 ||
        (ntohl(g_addr.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "floor: %s is not a 127.0.0.0/8 address\n", host);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    int fds[64];
    for (int i = 0; i < threads; i++)
        fds[i] = open_socket(threads > 1);     /* all bound before anyone serves */
    fprintf(stderr, "floor: %s:%d, %d thread(s)\n", host, port, threads);
    pthread_t tid[64];
    for (int i = 1; i < threads; i++)
        pthread_create(&tid[i], NULL, serve, (void *)(intptr_t)fds[i]);
    serve((void *)(intptr_t)fds[0]);
    return 0;
}
