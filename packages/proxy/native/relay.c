// libpodlink-relay: carries established fast-channel flows outside Node (issue #10). One thread of its own joins
// pairs of sockets: A, a plain TCP socket (a captured client, a pod), and B, a fast socket whose bytes are sealed
// records (the format below, keys from the fast channel's TLS handshake). Node stays in charge of everything before
// the splice (TLS handshake, proofs, flow header and answer) and after it (counting, logs); this only moves bytes.
//
// Record: type (1 byte: 0x17 data, 0x15 end) | plaintext length (2 bytes, big-endian, at most 16384) | AES-128-GCM
// ciphertext | 16-byte tag. The 3-byte head is the additional data; the nonce is the direction's 12-byte IV XOR the
// record's sequence number (big-endian, in the last 8 bytes), as in TLS 1.3. An end record carries no plaintext and
// is B's half-close; a TCP end of B without one is a truncation.
//
// Guarantees per flow: half-close both ways; a reset, a failed record or a truncation resets both sockets (SO_LINGER
// 0); a direction whose output is pending reads no more until it drained (backpressure); idle both ways for the
// flow's limit resets both. Each finished flow is queued for Node with its byte counts and how it ended, and one
// byte on the event pipe says the queue has entries.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// A pass reads up to BATCH records' worth (256 KiB): one flow 880-967 MB/s in the bench lab against 750-830 with 4
// and 800-905 with 8 (A/B, 3 rounds of 2 runs), at 1.29 against ~1.6-2.0 CPU-seconds per GB on the two agents.
enum { RECORD = 16384, HEAD = 3, TAG = 16, OVERHEAD = HEAD + TAG, BATCH = 16, MAX_FLOWS = 1 << 16 };
enum { TYPE_DATA = 0x17, TYPE_END = 0x15 };
// How a flow ended (plr_take_done's `how`); the binding names them.
enum { END_CLEAN = 0, END_RESET_A = 1, END_RESET_B = 2, END_TRUNCATED = 3, END_BAD_RECORD = 4, END_IDLE = 5, END_ABORTED = 6 };

struct dir {
  EVP_CIPHER_CTX *ctx;
  unsigned char iv[12];
  uint64_t seq;
  // Input being opened (B -> A): the shared scratch buffer during a pass.
  unsigned char *in;
  size_t have;
  // A partial record left over from the last read (B -> A), in memory of the flow's own (NULL when none).
  unsigned char *part;
  size_t part_len;
  // Output towards the sink: the shared scratch buffer while a pass makes it, then (only for what the sink did not
  // take at once) memory of the flow's own, `owned`. So an idle flow holds no buffers.
  unsigned char *out;
  size_t off, len;
  int owned;
  // The sink did not take the last output at once: read one record's worth at a time until it does, so a flow
  // whose reader is slow holds at most about a record per direction (not a whole batch).
  int slow;
  uint64_t bytes;  // plaintext carried
  int eof;         // the source ended (A's FIN; B's end record)
  int shut;        // the sink was told (A: shutdown(SHUT_WR); B: the end record flushed)
};

struct flow {
  int64_t id;
  int a, b;
  uint32_t a_events, b_events;
  struct dir ab, ba;  // ab: A -> B, sealing; ba: B -> A, opening
  int idle_ms;
  int64_t last;
  int gone[2];  // a side whose hang-up came (both ways shut): out of epoll, see step()
  unsigned char tags[2];  // epoll data: &tags[0] is A, &tags[1] is B
};

struct done {
  int64_t id;
  int32_t how;
  int32_t pad;
  uint64_t ab, ba;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
// Scratch for one pass of one direction (used under `mu` only): plaintext read or records read, and what they turn
// into. Output the sink does not take at once moves to the flow's own memory (emit).
static unsigned char s_in[BATCH * (RECORD + OVERHEAD)];
static unsigned char s_out[BATCH * (RECORD + OVERHEAD) + OVERHEAD];
static int ep = -1, events[2] = {-1, -1}, signalled;
static struct flow *flows[MAX_FLOWS];
static uint32_t generation[MAX_FLOWS];
static int live, next_free;
static struct done *queue;
static size_t queued, queue_cap;

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void nonce(const struct dir *d, unsigned char out[12]) {
  memcpy(out, d->iv, 12);
  for (int i = 0; i < 8; i++) out[4 + i] ^= (unsigned char)(d->seq >> (56 - 8 * i));
}

/** Appends one sealed record of `n` plaintext bytes (n <= RECORD) to ab's output. */
static void seal(struct dir *d, int type, const unsigned char *p, size_t n) {
  unsigned char iv[12], *o = d->out + d->len;
  int m = 0, f = 0;
  o[0] = (unsigned char)type;
  o[1] = (unsigned char)(n >> 8);
  o[2] = (unsigned char)n;
  nonce(d, iv);
  d->seq++;
  EVP_EncryptInit_ex(d->ctx, NULL, NULL, NULL, iv);
  EVP_EncryptUpdate(d->ctx, NULL, &m, o, HEAD);
  if (n > 0) EVP_EncryptUpdate(d->ctx, o + HEAD, &m, p, (int)n);
  EVP_EncryptFinal_ex(d->ctx, o + HEAD + n, &f);
  EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_GCM_GET_TAG, TAG, o + HEAD + n);
  d->len += n + OVERHEAD;
}

static void seal_all(struct dir *d, const unsigned char *p, size_t n) {
  while (n > 0) {
    size_t k = n > RECORD ? RECORD : n;
    seal(d, TYPE_DATA, p, k);
    p += k;
    n -= k;
  }
}

/** Opens the complete records in ba's input into its output. 0, or END_BAD_RECORD. */
static int open_records(struct dir *d) {
  size_t at = 0;
  while (d->have - at >= HEAD) {
    const unsigned char *r = d->in + at;
    size_t n = ((size_t)r[1] << 8) | r[2];
    if ((r[0] != TYPE_DATA && r[0] != TYPE_END) || n > RECORD || (r[0] == TYPE_END && n != 0)) return END_BAD_RECORD;
    if (d->eof) return END_BAD_RECORD;  // bytes after the end record
    if (d->have - at < n + OVERHEAD) break;
    unsigned char iv[12];
    int m = 0, f = 0;
    nonce(d, iv);
    d->seq++;
    EVP_DecryptInit_ex(d->ctx, NULL, NULL, NULL, iv);
    EVP_DecryptUpdate(d->ctx, NULL, &m, r, HEAD);
    if (n > 0) EVP_DecryptUpdate(d->ctx, d->out + d->len, &m, r + HEAD, (int)n);
    EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_GCM_SET_TAG, TAG, (void *)(r + HEAD + n));
    if (EVP_DecryptFinal_ex(d->ctx, d->out + d->len + n, &f) <= 0) return END_BAD_RECORD;
    d->len += n;
    d->bytes += n;
    if (r[0] == TYPE_END) d->eof = 1;
    at += n + OVERHEAD;
  }
  memmove(d->in, d->in + at, d->have - at);
  d->have -= at;
  return 0;
}

static void interest(struct flow *fl, int fd, uint32_t *current, uint32_t want, unsigned char *tag) {
  if (*current == want || fl->gone[*tag]) return;
  struct epoll_event ev = {.events = want, .data.ptr = tag};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
  *current = want;
}

static void signal_node(void) {
  if (signalled) return;
  signalled = 1;
  unsigned char one = 1;
  ssize_t w = write(events[1], &one, 1);
  (void)w;
}

static void free_flow(struct flow *fl) {
  EVP_CIPHER_CTX_free(fl->ab.ctx);
  EVP_CIPHER_CTX_free(fl->ba.ctx);
  if (fl->ab.owned) free(fl->ab.out);
  if (fl->ba.owned) free(fl->ba.out);
  free(fl->ba.part);
  free(fl);
}

static void release(struct flow *fl, int how) {
  if (how != END_CLEAN) {
    struct linger lg = {1, 0};
    setsockopt(fl->a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    setsockopt(fl->b, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, fl->a, NULL);
  epoll_ctl(ep, EPOLL_CTL_DEL, fl->b, NULL);
  close(fl->a);
  close(fl->b);
  if (queued == queue_cap) {
    size_t cap = queue_cap == 0 ? 64 : queue_cap * 2;
    struct done *q = realloc(queue, cap * sizeof *q);
    if (q != NULL) {
      queue = q;
      queue_cap = cap;
    }
  }
  if (queued < queue_cap) queue[queued++] = (struct done){fl->id, how, 0, fl->ab.bytes, fl->ba.bytes};
  signal_node();
  int slot = (int)(fl->id & (MAX_FLOWS - 1));
  flows[slot] = NULL;
  live--;
  free_flow(fl);
}

/** Writes d's pending output to fd. 0 when all is out, 1 when the socket is full, -1 on an error. */
static int flush(struct dir *d, int fd) {
  while (d->off < d->len) {
    ssize_t w = send(fd, d->out + d->off, d->len - d->off, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN || errno == EINTR ? 1 : -1;
    d->off += (size_t)w;
  }
  d->off = d->len = 0;
  if (d->owned) {
    free(d->out);
    d->out = NULL;
    d->owned = 0;
  }
  return 0;
}

/** Output just made in the scratch buffer: send what the socket takes now, keep the rest in the flow's own memory. */
static int emit(struct dir *d, int fd) {
  int r = flush(d, fd);
  if (r < 0) return -1;
  d->slow = d->len > d->off;
  if (d->len > d->off) {
    size_t n = d->len - d->off;
    unsigned char *own = malloc(n);
    if (own == NULL) return -1;
    memcpy(own, d->out + d->off, n);
    d->out = own;
    d->off = 0;
    d->len = n;
    d->owned = 1;
  }
  return r;
}

/** Moves what can move now, both ways. Returns a way to end the flow (END_*), or -1 while it goes on. */
static int progress(struct flow *fl) {
  for (int moved = 1; moved;) {
    moved = 0;
    // A -> B: plaintext in, records out.
    if (fl->ab.len > fl->ab.off) {
      int r = flush(&fl->ab, fl->b);
      if (r < 0) return END_RESET_B;
      if (r == 0) moved = 1;
    }
    if (fl->ab.len == 0 && !fl->ab.eof) {
      ssize_t r = recv(fl->a, s_in, (size_t)(fl->ab.slow ? 1 : BATCH) * RECORD, 0);
      if (r < 0 && errno != EAGAIN && errno != EINTR) return END_RESET_A;
      if (r >= 0) {
        fl->ab.out = s_out;
        fl->ab.len = fl->ab.off = 0;
        if (r > 0) {
          seal_all(&fl->ab, s_in, (size_t)r);
          fl->ab.bytes += (uint64_t)r;
          fl->last = now_ms();
        } else {
          fl->ab.eof = 1;
          seal(&fl->ab, TYPE_END, NULL, 0);
        }
        if (emit(&fl->ab, fl->b) < 0) return END_RESET_B;
        moved = 1;
      }
    }
    if (fl->ab.eof && !fl->ab.shut && fl->ab.len == 0) {
      fl->ab.shut = 1;
      shutdown(fl->b, SHUT_WR);
    }
    // B -> A: records in, plaintext out.
    if (fl->ba.len > fl->ba.off) {
      int r = flush(&fl->ba, fl->a);
      if (r < 0) return END_RESET_A;
      if (r == 0) moved = 1;
    }
    if (fl->ba.len == 0 && !fl->ba.eof) {
      struct dir *d = &fl->ba;
      if (d->part_len > 0) memcpy(s_in, d->part, d->part_len);
      ssize_t r = recv(fl->b, s_in + d->part_len, (size_t)(d->slow ? 1 : BATCH) * (RECORD + OVERHEAD) - d->part_len, 0);
      if (r == 0) return END_TRUNCATED;
      if (r < 0 && errno != EAGAIN && errno != EINTR) return END_RESET_B;
      if (r > 0) {
        d->in = s_in;
        d->have = d->part_len + (size_t)r;
        d->out = s_out;
        d->len = d->off = 0;
        int bad = open_records(d);
        if (bad) return bad;
        // What is left is less than a record: kept in the flow's own memory until the rest comes.
        if (d->have > 0 && d->part == NULL) d->part = malloc(RECORD + OVERHEAD);
        if (d->have > 0 && d->part == NULL) return END_RESET_B;
        if (d->have > 0) memcpy(d->part, s_in, d->have);
        d->part_len = d->have;
        if (d->have == 0 && d->part != NULL) {
          free(d->part);
          d->part = NULL;
        }
        fl->last = now_ms();
        if (emit(d, fl->a) < 0) return END_RESET_A;
        moved = 1;
      }
    }
    if (fl->ba.eof && !fl->ba.shut && fl->ba.len == 0) {
      fl->ba.shut = 1;
      shutdown(fl->a, SHUT_WR);
    }
  }
  if (fl->ab.shut && fl->ba.shut) return END_CLEAN;
  uint32_t a = 0, b = 0;
  if (!fl->ab.eof && fl->ab.len == 0) a |= EPOLLIN;
  if (fl->ba.len > fl->ba.off) a |= EPOLLOUT;
  if (!fl->ba.eof && fl->ba.len == 0) b |= EPOLLIN;
  if (fl->ab.len > fl->ab.off) b |= EPOLLOUT;
  interest(fl, fl->a, &fl->a_events, a, &fl->tags[0]);
  interest(fl, fl->b, &fl->b_events, b, &fl->tags[1]);
  return -1;
}

/**
 * One pass after epoll spoke of side `side` (0 A, 1 B). An error there (a reset) ends the flow. A hang-up without one
 * means both directions of that socket are shut: we sent our FIN and its FIN is queued behind whatever data is left.
 * Level-triggered HUP cannot be masked, so that socket leaves epoll (it would wake us in a loop while the other side
 * drains); its reads never block from then on (data, then 0), so the other side's wake-ups finish reading it.
 */
static void step(struct flow *fl, uint32_t events, int side) {
  if (events & EPOLLERR) {
    release(fl, side == 0 ? END_RESET_A : END_RESET_B);
    return;
  }
  if ((events & EPOLLHUP) && !fl->gone[side]) {
    fl->gone[side] = 1;
    epoll_ctl(ep, EPOLL_CTL_DEL, side == 0 ? fl->a : fl->b, NULL);
  }
  int how = progress(fl);
  if (how >= 0) release(fl, how);
}

static void *run(void *arg) {
  (void)arg;
  struct epoll_event evs[64];
  int64_t last_scan = now_ms();
  for (;;) {
    int n = epoll_wait(ep, evs, 64, 1000);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n; i++) {
      unsigned char *tag = evs[i].data.ptr;
      struct flow *fl = (struct flow *)(tag - *tag - offsetof(struct flow, tags));
      if (flows[fl->id & (MAX_FLOWS - 1)] != fl) continue;  // released earlier in this batch
      step(fl, evs[i].events, *tag);
    }
    int64_t t = now_ms();
    if (t - last_scan >= 1000) {
      last_scan = t;
      for (int s = 0; s < MAX_FLOWS && live > 0; s++) {
        struct flow *fl = flows[s];
        if (fl != NULL && fl->idle_ms > 0 && t - fl->last >= fl->idle_ms) release(fl, END_IDLE);
      }
    }
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

/** Starts the relay thread (once). Returns the read end of the event pipe, or -1. */
int plr_start(void) {
  pthread_mutex_lock(&mu);
  if (ep < 0) {
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || pipe2(events, O_NONBLOCK | O_CLOEXEC) < 0) {
      pthread_mutex_unlock(&mu);
      return -1;
    }
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, run, NULL) != 0) {
      pthread_mutex_unlock(&mu);
      return -1;
    }
  }
  pthread_mutex_unlock(&mu);
  return events[0];
}

static int init_dir(struct dir *d, int encrypt, const unsigned char *key, const unsigned char *iv, uint64_t seq) {
  d->ctx = EVP_CIPHER_CTX_new();
  if (d->ctx == NULL) return -1;
  memcpy(d->iv, iv, 12);
  d->seq = seq;
  return encrypt ? (EVP_EncryptInit_ex(d->ctx, EVP_aes_128_gcm(), NULL, key, NULL) == 1 ? 0 : -1)
                 : (EVP_DecryptInit_ex(d->ctx, EVP_aes_128_gcm(), NULL, key, NULL) == 1 ? 0 : -1);
}

/**
 * Takes over a flow: `a` and `b` become the relay's (it closes them). `keys`: A->B key (16) and IV (12), then B->A
 * key and IV; `ab_seq`/`ba_seq` the records each way so far. `to_b`: plaintext read from A that B has not been sent;
 * `to_a`: plaintext opened from B that A has not been sent; `from_b`: bytes of B not yet opened (a partial record).
 * Returns the flow's id (>= 0), or -1 (nothing was taken: the caller still owns a and b).
 */
int64_t plr_add(int a, int b, const unsigned char *keys, uint64_t ab_seq, uint64_t ba_seq, const unsigned char *to_b,
                size_t to_b_len, const unsigned char *to_a, size_t to_a_len, const unsigned char *from_b,
                size_t from_b_len, int idle_ms) {
  if (ep < 0 || from_b_len >= RECORD + OVERHEAD || to_a_len > BATCH * RECORD || to_b_len > BATCH * RECORD) return -1;
  struct flow *fl = calloc(1, sizeof *fl);
  if (fl == NULL) return -1;
  fl->tags[0] = 0;
  fl->tags[1] = 1;
  int ok = init_dir(&fl->ab, 1, keys, keys + 16, ab_seq) == 0 && init_dir(&fl->ba, 0, keys + 28, keys + 44, ba_seq) == 0;
  // What Node had read and not passed on goes first, from the flow's own memory.
  if (ok && to_b_len > 0) {
    size_t records = (to_b_len + RECORD - 1) / RECORD;
    fl->ab.out = malloc(to_b_len + records * OVERHEAD);
    fl->ab.owned = fl->ab.out != NULL;
    if (fl->ab.owned) seal_all(&fl->ab, to_b, to_b_len);
    else ok = 0;
  }
  if (ok && to_a_len > 0) {
    fl->ba.out = malloc(to_a_len);
    fl->ba.owned = fl->ba.out != NULL;
    if (fl->ba.owned) {
      memcpy(fl->ba.out, to_a, to_a_len);
      fl->ba.len = to_a_len;
    } else ok = 0;
  }
  if (ok && from_b_len > 0) {
    fl->ba.part = malloc(RECORD + OVERHEAD);
    if (fl->ba.part != NULL) {
      memcpy(fl->ba.part, from_b, from_b_len);
      fl->ba.part_len = from_b_len;
    } else ok = 0;
  }
  if (!ok) {
    free_flow(fl);
    return -1;
  }
  fl->ab.bytes = to_b_len;
  fl->ba.bytes = to_a_len;
  fl->a = a;
  fl->b = b;
  fl->idle_ms = idle_ms;
  fl->last = now_ms();
  fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK);
  fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK);
  pthread_mutex_lock(&mu);
  int slot = -1;
  for (int i = 0; i < MAX_FLOWS; i++) {
    int s = (next_free + i) & (MAX_FLOWS - 1);
    if (flows[s] == NULL) {
      slot = s;
      break;
    }
  }
  struct epoll_event ea = {.events = 0, .data.ptr = &fl->tags[0]}, eb = {.events = 0, .data.ptr = &fl->tags[1]};
  if (slot < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, a, &ea) < 0) {
    pthread_mutex_unlock(&mu);
    free_flow(fl);
    return -1;
  }
  if (epoll_ctl(ep, EPOLL_CTL_ADD, b, &eb) < 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL);
    pthread_mutex_unlock(&mu);
    free_flow(fl);
    return -1;
  }
  next_free = (slot + 1) & (MAX_FLOWS - 1);
  fl->id = ((int64_t)++generation[slot] << 16) | slot;
  flows[slot] = fl;
  live++;
  int64_t id = fl->id;
  // The first pass runs here: what is already readable or pending moves now, then epoll wakes us for the rest.
  step(fl, 0, 0);
  pthread_mutex_unlock(&mu);
  return id;
}

static struct flow *find(int64_t id) {
  if (id < 0) return NULL;
  struct flow *fl = flows[id & (MAX_FLOWS - 1)];
  return fl != NULL && fl->id == id ? fl : NULL;
}

/** Plaintext carried so far each way (out[0] A->B, out[1] B->A). 0, or -1 when the flow is over. */
int plr_counts(int64_t id, uint64_t *out) {
  pthread_mutex_lock(&mu);
  struct flow *fl = find(id);
  if (fl != NULL) {
    out[0] = fl->ab.bytes;
    out[1] = fl->ba.bytes;
  }
  pthread_mutex_unlock(&mu);
  return fl != NULL ? 0 : -1;
}

/** Resets both sockets of the flow now; it is reported as aborted. 0, or -1 when it is already over. */
int plr_abort(int64_t id) {
  pthread_mutex_lock(&mu);
  struct flow *fl = find(id);
  if (fl != NULL) release(fl, END_ABORTED);
  pthread_mutex_unlock(&mu);
  return fl != NULL ? 0 : -1;
}

/** Copies up to `cap` finished flows (32 bytes each: id i64, how i32, pad, A->B u64, B->A u64); returns how many. */
int plr_take_done(unsigned char *buf, int cap) {
  pthread_mutex_lock(&mu);
  int n = (int)(queued < (size_t)cap ? queued : (size_t)cap);
  memcpy(buf, queue, (size_t)n * sizeof *queue);
  memmove(queue, queue + n, (queued - (size_t)n) * sizeof *queue);
  queued -= (size_t)n;
  // Node reads the pipe's bytes; the next finished flow writes one again once this drained the queue.
  if (queued == 0) signalled = 0;
  pthread_mutex_unlock(&mu);
  return n;
}

/** Flows the relay carries now. */
int plr_live(void) {
  pthread_mutex_lock(&mu);
  int n = live;
  pthread_mutex_unlock(&mu);
  return n;
}
