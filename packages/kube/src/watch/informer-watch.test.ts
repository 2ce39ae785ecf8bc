import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { toNodeInfo } from '../convert/node-info.ts'
import { connectKube, kubeConfigOf } from '../kube-connection.ts'
import { until } from '../testdata/stand-in.ts'
import { ManualTimers } from '../testing/manual-timers.ts'
import { InformerWatch } from './informer-watch.ts'

/** A loopback port with nothing listening: every request is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('InformerWatch restarts', () => {
  it('backs off exponentially (capped) while the API refuses, one loop at a time', async () => {
    const timers = new ManualTimers()
    let lists = 0
    const watch = new InformerWatch(
      {
        resource: 'nodes',
        path: '/api/v1/nodes',
        list: () => {
          lists++
          return Promise.reject(new Error('connect ECONNREFUSED'))
        },
        convert: toNodeInfo,
      },
      {
        kubeConfig: kubeConfigOf(connectKube({ mode: 'metaserver', url: `http://127.0.0.1:${await closedPort()}` })),
        timers,
        random: () => 0.999999,
        backoff: { initialMs: 100, maxMs: 400 },
      },
    )
    const failures: string[] = []
    watch.on('failed', (err) => failures.push(err.message))
    await watch.start()
    const delays: number[] = []
    for (let i = 0; i < 5; i++) {
      await until(() => failures.length === i + 1, `failure ${i + 1}`)
      expect(timers.pendingDelays()).toHaveLength(1)
      delays.push(timers.pendingDelays()[0]!)
      timers.advance(delays.at(-1)!)
    }
    expect(delays).toEqual([100, 200, 400, 400, 400])
    await until(() => failures.length === 6, 'sixth failure')
    expect(lists).toBe(6)
    expect(watch.status()).toMatchObject({ synced: false, restarts: 5, lastError: 'connect ECONNREFUSED' })
    await watch.stop()
    expect(timers.pendingDelays()).toEqual([])
  })
})
