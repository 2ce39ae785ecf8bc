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
