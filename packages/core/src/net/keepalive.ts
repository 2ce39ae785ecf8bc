/**
 * TCP keepalive idle time for every long-lived connection the agent holds (the mesh's, dialled, accepted and
 * punched; the API's watches), then probes 1 s apart (libuv's interval). Node's and @libp2p/tcp's keepalive use the
 * kernel's idle time, 2 hours. When a NAT router between two ends forgets its mappings (a reboot, `conntrack -F`),
 * the far end's next write is answered by the router with a reset and the far end closes, while an idle near end
 * hears nothing: an API watch went unnoticed until client-node's 30 s inactivity timeout (a deleted Node withdrawn
 * 4-6 s late in the fault lab, a Node added after the flush 9 s late), a relay reservation until the next ping
 * (relayed flows broken 1.6-6 s). A probe from the near end re-creates the mapping from inside before the far end
 * writes, or meets its reset and the connection closes at once. Cost when idle: one probe per 5 s per connection.
 */
export const KEEPALIVE_IDLE_MS = 5_000

/**
 * TCP keepalive idle time for a connection that carries flows: a fast socket, or a mesh connection with open streams
 * (flows, or relayed connections riding a reservation). After a NAT flush the far end's data to a near end that is
 * only receiving is dropped at the router, and the near end, with nothing unacknowledged, stays silent until its
 * keepalive: with KEEPALIVE_IDLE_MS the far end's next retransmission (exponential backoff: ~0.2, 0.6, 1.4, 3.0,
 * 6.2 s) that got through came at ~6.2 s, and relayed flows stalled ~7 s in 2 of 8 flushes in the fault lab.
 * Probing after 1 s re-creates the mapping in time for the retransmission at ~1.4 s. A fast socket had no
 * keepalive at all: a download on it stalled until the far end gave up. Cost: one probe and its answer per second
 * per busy connection that hears nothing (a connection moving data sends none).
 */
export const BUSY_KEEPALIVE_MS = 1_000
