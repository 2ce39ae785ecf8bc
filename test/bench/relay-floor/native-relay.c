// native-relay A|B LISTEN_PORT TARGET_PORT: the relay-floor benchmark's native two-hop relay on loopback, AES-128-GCM
// records between A and B (frame: u16 length | ciphertext | 16-byte tag; nonce: 4 zero bytes | u64 counter per
// direction; a fixed key: this measures the per-pass cost of C with crypto, it is not a secure channel).
// One thread, epoll, non-blocking sockets: a direction whose output is pending stops reading until it drains;
// half-close is carried (EOF becomes shutdown(SHUT_WR) once the pending bytes are out).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const unsigned char KEY[16] = "0123456789abcdef";
enum { MAX_FD = 4096, RECORD = 16384, BUF = 4 * RECORD + 64 };

/** The direction that reads `fd` and writes `to`: sealing (encrypt) or opening records. */
struct side {
  int fd, to, encrypt, eof, shut;
  uint64_t seq;
  EVP_CIPHER_CTX *ctx;
  size_t have, pend_off, pend_len;
  unsigned char in[BUF];
  unsigned char pend[BUF + 2 * (RECORD + 18)];
};
static struct side *sides[MAX_FD];
static int ep;

static void watch(int fd) {
  // fd reads while its own output (what it sends to `to`) is drained; it waits for EPOLLOUT when the other
  // direction has bytes pending towards it.
  struct side *s = sides[fd];
  struct side *o = sides[s->to];
  struct epoll_event ev = {.events = 0, .data.fd = fd};
  if (!s->eof && s->pend_len == s->pend_off) ev.events |= EPOLLIN;
  if (o != NULL && o->pend_len > o->pend_off) ev.events |= EPOLLOUT;
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void drop(int fd) {
  struct side *s = sides[fd];
  if (s == NULL) return;
  EVP_CIPHER_CTX_free(s->ctx);
  free(s);
  sides[fd] = NULL;
  close(fd);
}

static void reset(int fd) {
  int to = sides[fd]->to;
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  setsockopt(to, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  drop(fd);
  drop(to);
}

/** Writes s's pending bytes to s->to; returns -1 on a write error. Sends the FIN once all is out after EOF. */
static int flush(struct side *s) {
  while (s->pend_off < s->pend_len) {
    ssize_t w = write(s->to, s->pend + s->pend_off, s->pend_len - s->pend_off);
    if (w < 0) return errno == EAGAIN ? 0 : -1;
    s->pend_off += (size_t)w;
  }
  s->pend_off = s->pend_len = 0;
  if (s->eof && !s->shut) {
    shutdown(s->to, SHUT_WR);
    s->shut = 1;
  }
  return 0;
}

static void nonce(unsigned char iv[12], uint64_t seq) {
  memset(iv, 0, 12);
  memcpy(iv + 4, &seq, 8);
}

/** Reads what is there into pending output (sealed or opened); -1 on an error or a record that fails. */
static int pump(struct side *s) {
  ssize_t r = read(s->fd, s->in + s->have, s->encrypt ? RECORD : BUF - s->have);
  if (r < 0) return errno == EAGAIN ? 0 : -1;
  if (r == 0) {
    s->eof = 1;
    return 0;
  }
  unsigned char iv[12];
  int n = 0, f = 0;
  unsigned char *out = s->pend + s->pend_len;
  if (s->encrypt) {
    nonce(iv, s->seq++);
    EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, iv);
    EVP_EncryptUpdate(s->ctx, out + 2, &n, s->in, (int)r);
    EVP_EncryptFinal_ex(s->ctx, out + 2 + n, &f);
    EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 2 + r);
    out[0] = (unsigned char)(r >> 8);
    out[1] = (unsigned char)r;
    s->pend_len += 2 + (size_t)r + 16;
    return 0;
  }
  s->have += (size_t)r;
  size_t at = 0;
  while (s->have - at >= 2) {
    size_t len = ((size_t)s->in[at] << 8) | s->in[at + 1];
    if (len > RECORD) return -1;
    if (s->have - at < 2 + len + 16) break;
    nonce(iv, s->seq++);
    EVP_DecryptInit_ex(s->ctx, NULL, NULL, NULL, iv);
    EVP_DecryptUpdate(s->ctx, s->pend + s->pend_len, &n, s->in + at + 2, (int)len);
    EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, 16, s->in + at + 2 + len);
    if (EVP_DecryptFinal_ex(s->ctx, s->pend + s->pend_len + n, &f) <= 0) {
      fprintf(stderr, "native-relay: a record failed authentication\n");
      return -1;
    }
    s->pend_len += len;
    at += 2 + len + 16;
  }
  memmove(s->in, s->in + at, s->have - at);
  s->have -= at;
  return 0;
}

static void add(int fd, int to, int encrypt) {
  struct side *s = calloc(1, sizeof *s);
  s->fd = fd;
  s->to = to;
  s->encrypt = encrypt;
  s->ctx = EVP_CIPHER_CTX_new();
  if (encrypt) EVP_EncryptInit_ex(s->ctx, EVP_aes_128_gcm(), NULL, KEY, NULL);
  else EVP_DecryptInit_ex(s->ctx, EVP_aes_128_gcm(), NULL, KEY, NULL);
  sides[fd] = s;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int dial(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
  if (connect(s, (void *)&a, sizeof a) < 0) {
    close(s);
    return -1;
  }
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: native-relay A|B LISTEN_PORT TARGET_PORT\n");
    return 2;
  }
  int isA = argv[1][0] == 'A', one = 1;
  int lp = atoi(argv[2]), tp = atoi(argv[3]);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(lp), .sin_addr.s_addr = htonl(0x7f000001)};
  if (bind(l, (void *)&a, sizeof a) < 0 || listen(l, 64) < 0) {
    perror("native-relay: listen");
    return 1;
  }
  ep = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.fd = l};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &lev);
  printf("ready\n");
  fflush(stdout);
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(ep, evs, 64, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        int c = accept(l, NULL, NULL);
        if (c < 0) continue;
        int t = dial(tp);
        if (t < 0 || c >= MAX_FD || t >= MAX_FD) {
          close(c);
          if (t >= 0) close(t);
          continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        // A seals what its client sends and opens what B sends; B opens what A sends and seals the server's.
        add(c, t, isA);
        add(t, c, !isA);
        continue;
      }
      struct side *s = sides[fd];
      if (s == NULL) continue;
      struct side *o = sides[s->to];
      // Writable: the other direction's pending bytes go out to this fd.
      if ((evs[i].events & EPOLLOUT) && o != NULL && flush(o) < 0) {
        reset(fd);
        continue;
      }
      if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !s->eof && s->pend_len == s->pend_off) {
        if (pump(s) < 0 || flush(s) < 0) {
          reset(fd);
          continue;
        }
      }
      if (s->shut && o != NULL && o->shut) {
        int to = s->to;
        drop(fd);
        drop(to);
        continue;
      }
      watch(fd);
      if (sides[s->to] != NULL) watch(s->to);
    }
  }
}
