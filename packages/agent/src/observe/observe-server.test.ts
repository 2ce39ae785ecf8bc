import type { HealthStatus } from '@podlink/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createAgentMetrics } from './agent-metrics.ts'
import { type ObserveServer, startObserveServer } from './observe-server.ts'
import { observeFixture } from './testing/observe-fixture.ts'
import { parsePrometheusText, sampleValue } from './testing/parse-prometheus-text.ts'

let server: ObserveServer | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

async function start(health: () => HealthStatus, metrics = createAgentMetrics()) {
  server = await startObserveServer(
    { address: '127.0.0.1', port: 0 },
    { metrics: () => metrics.render(observeFixture), health },
  )
  return { base: `http://127.0.0.1:${server.port}`, metrics }
}

describe('startObserveServer', () => {
  it('serves /metrics as Prometheus text, and counters move between scrapes', async () => {
    const { base, metrics } = await start(() => observeFixture.health)
    const first = await fetch(`${base}/metrics`)
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(sampleValue(parsePrometheusText(await first.text()), 'podlink_holepunch_attempts_total')).toBe(0)
    metrics.holepunchAttempted()
    const second = parsePrometheusText(await (await fetch(`${base}/metrics`)).text())
    expect(sampleValue(second, 'podlink_holepunch_attempts_total')).toBe(1)
  })

  it.each([
    ['/healthz', { ready: true, healthy: true, reasons: [] }, 200, 'ok\n'],
    ['/readyz', { ready: true, healthy: true, reasons: [] }, 200, 'ok\n'],
    [
      '/healthz',
      { ready: true, healthy: false, reasons: ['rules not applied for 31s'] },
      503,
      'rules not applied for 31s\n',
    ],
    [
      '/readyz',
      { ready: false, healthy: true, reasons: ['cluster view not synced yet', 'no relay reservation'] },
      503,
      'cluster view not synced yet\nno relay reservation\n',
    ],
    ['/healthz', { ready: false, healthy: true, reasons: ['cluster view not synced yet'] }, 200, 'ok\n'],
  ] as const)('%s with %j answers %d', async (path, health, code, body) => {
    const { base } = await start(() => health)
    const res = await fetch(`${base}${path}`)
    expect(res.status).toBe(code)
    expect(await res.text()).toBe(body)
  })

  it('answers 404 elsewhere, 405 for other methods, 500 when a provider throws', async () => {
    const { base } = await start(() => {
      throw new Error('boom')
    })
    expect((await fetch(`${base}/nope`)).status).toBe(404)
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405)
    const res = await fetch(`${base}/healthz`)
    expect(res.status).toBe(500)
    expect(await res.text()).toMatch(/Cannot answer \/healthz as boom/)
  })
})
