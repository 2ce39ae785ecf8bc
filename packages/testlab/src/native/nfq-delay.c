// nfq-delay: userspace wire latency for the lab (this kernel has no sch_netem).
// Runs in a router namespace; iptables sends every packet crossing the WAN side to NFQUEUE,
// and this holds each one DELAY_MS before accepting it (verdicts may be issued out of order).
// usage: nfq-delay QUEUE DELAY_MS
// Derived from ../shared/research/tcp-punch-code/nfq-delay.c (per-host delays there).
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <signal.h>
#include <time.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

typedef struct { uint64_t t; uint32_t id; } ent;
static ent *heap; static int hn, hcap;
static struct nfq_q_handle *qh;
static uint64_t delay_us;
static volatile sig_atomic_t stopping;

static uint64_t now_us(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000; }
static void push(uint64_t t, uint32_t id) {
  if (hn == hcap) { hcap = hcap ? hcap * 2 : 1024; heap = realloc(heap, hcap * sizeof(ent)); if (!heap) abort(); }
  int i = hn++; heap[i].t = t; heap[i].id = id;
  while (i > 0) { int p = (i - 1) / 2; if (heap[p].t <= heap[i].t) break; ent x = heap[p]; heap[p] = heap[i]; heap[i] = x; i = p; }
}
static ent pop(void) {
  ent r = heap[0]; heap[0] = heap[--hn]; int i = 0;
  for (;;) { int l = 2 * i + 1, m = i; if (l < hn && heap[l].t < heap[m].t) m = l; if (l + 1 < hn && heap[l + 1].t < heap[m].t) m = l + 1; if (m == i) break; ent x = heap[m]; heap[m] = heap[i]; heap[i] = x; i = m; }
  return r;
}
static int cb(struct nfq_q_handle *q, struct nfgenmsg *m, struct nfq_data *d, void *u) {
  (void)m; (void)u;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(d);
  uint32_t id = ntohl(ph->packet_id);
  if (delay_us == 0) return nfq_set_verdict(q, id, NF_ACCEPT, 0, NULL);
  push(now_us() + delay_us, id);
  return 0;
}
static void on_term(int s) { (void)s; stopping = 1; }
int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s QUEUE DELAY_MS\n", argv[0]); return 2; }
  delay_us = (uint64_t)atoi(argv[2]) * 1000ull;
  signal(SIGTERM, on_term); signal(SIGINT, on_term);
  struct nfq_handle *h = nfq_open(); if (!h) { perror("nfq_open"); return 1; }
  qh = nfq_create_queue(h, atoi(argv[1]), &cb, NULL); if (!qh) { perror("nfq_create_queue"); return 1; }
  nfq_set_mode(qh, NFQNL_COPY_PACKET, 0); nfq_set_queue_maxlen(qh, 65536);
  int fd = nfq_fd(h); char buf[4096] __attribute__((aligned));
  fprintf(stderr, "nfq-delay: queue %s, %s ms\n", argv[1], argv[2]);
  while (!stopping) {
    int to = 200; if (hn) { uint64_t n = now_us(); to = heap[0].t > n ? (int)((heap[0].t - n + 999) / 1000) : 0; }
    struct pollfd pf = { fd, POLLIN, 0 }; int r = poll(&pf, 1, to);
    if (r > 0) { int rv; while ((rv = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) nfq_handle_packet(h, buf, rv); }
    uint64_t n = now_us(); while (hn && heap[0].t <= n) { ent e = pop(); nfq_set_verdict(qh, e.id, NF_ACCEPT, 0, NULL); }
  }
  while (hn) { ent e = pop(); nfq_set_verdict(qh, e.id, NF_ACCEPT, 0, NULL); }
  nfq_destroy_queue(qh); nfq_close(h);
  return 0;
}
