/**
 * Run inside a lab node's namespace, after SIGUSR1 opened the agent's inspector on 127.0.0.1:9229:
 *   node agent-memory.ts
 * Prints the agent's process.memoryUsage() in MiB after two full garbage collections: what it retains, not the
 * garbage a burst left for a collection V8 has not run yet (a flood of 1,100 streams grew RSS by 75 MiB per round,
 * round after round, and one forced collection gave it all back).
 */
const list = (await (await fetch('http://127.0.0.1:9229/json/list')).json()) as Array<{ webSocketDebuggerUrl: string }>
const ws = new WebSocket(list[0]!.webSocketDebuggerUrl)
await new Promise((resolve, reject) => {
  ws.addEventListener('open', resolve, { once: true })
  ws.addEventListener('error', reject, { once: true })
})
type Reply = { id?: number; result?: { result?: { value?: string } } }
const pending = new Map<number, (m: Reply) => void>()
ws.addEventListener('message', (e) => {
  const m = JSON.parse(String(e.data)) as Reply
  if (m.id !== undefined) pending.get(m.id)?.(m)
})
let next = 0
const call = (method: string, params: object = {}) =>
  new Promise<Reply>((resolve) => {
    const id = ++next
    pending.set(id, resolve)
    ws.send(JSON.stringify({ id, method, params }))
  })
await call('HeapProfiler.collectGarbage')
await call('HeapProfiler.collectGarbage')
const r = await call('Runtime.evaluate', {
  expression:
    'JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, v / 1048576])))',
})
console.log(r.result?.result?.value ?? '{}')
ws.close()
