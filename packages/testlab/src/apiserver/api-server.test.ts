import { request } from 'node:https'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, type ApiServerFixture, NODE_TOKEN, startApiServerFixture } from './api-server-fixture.ts'
import { NODES, PODS, SERVICES } from './resource-types.ts'

let fx: ApiServerFixture

beforeAll(async () => {
  fx = await startApiServerFixture({ bookmarkIntervalMs: 50 })
})
afterAll(async () => fx.dispose())

/** A list item or resource entry as the tests read it. */
interface Item {
  name: string
  metadata: { name: string; namespace?: string }
}

interface Reply {
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: tests read deep into JSON answers and assert on their shape
  body: any
  text: string
}

function call(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; contentType?: string; accept?: string } = {},
): Promise<Reply> {
  const token = options.token === undefined ? ADMIN_TOKEN : options.token
  const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' }
  if (token !== null) headers['Authorization'] = `Bearer ${token}`
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  if (payload !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json'
  return new Promise((resolve, reject) => {
    const req = request(`${fx.server.url}${path}`, { method, headers, ca: fx.pki.caPem }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          text,
          body: text === '' ? undefined : JSON.parse(text.split('\n')[0]!),
        }),
      )
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** All newline-delimited events of a watch that the server ends (timeoutSeconds or an ERROR). */
async function watchEvents(path: string): Promise<Array<{ type: string; object: Reply['body'] }>> {
  const reply = await call('GET', path)
  expect(reply.status).toBe(200)
  return reply.text
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l))
}

const node = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels },
})

describe('authentication', () => {
  it('answers 401 Unauthorized for a missing or unknown token, and serves known tokens', async () => {
    for (const token of [null, 'wrong-token']) {
      const reply = await call('GET', '/api/v1/nodes', { token })
      expect(reply.status).toBe(401)
      expect(reply.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 })
    }
    expect((await call('GET', '/api/v1/nodes', { token: NODE_TOKEN })).status).toBe(200)
  })
})

describe('REST verbs', () => {
  it('creates with generateName, refuses duplicates with 409 AlreadyExists and unknown names with 404', async () => {
    const created = await call('POST', '/api/v1/namespaces/default/pods', {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'gen-' } },
    })
    expect(created.status).toBe(201)
    expect(created.body.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/)
    expect(created.body.metadata).toMatchObject({ namespace: 'default', generation: 1 })
    expect(created.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/)
    const again = await call('POST', '/api/v1/namespaces/default/pods', {
      body: { metadata: { name: created.body.metadata.name } },
    })
    expect(again.body).toMatchObject({ kind: 'Status', reason: 'AlreadyExists', code: 409 })
    const missing = await call('DELETE', '/api/v1/namespaces/default/pods/nope')
    expect(missing.body).toMatchObject({
      kind: 'Status',
      reason: 'NotFound',
      code: 404,
      message: 'pods "nope" not found',
    })
    const noNs = await call('POST', '/api/v1/namespaces/nowhere/pods', { body: { metadata: { name: 'p' } } })
    expect(noNs.body).toMatchObject({ reason: 'NotFound', message: 'namespaces "nowhere" not found' })
  })

  it('refuses an update with a stale resourceVersion with 409 Conflict', async () => {
    const first = (await call('POST', '/api/v1/nodes', { body: node('conflict-a') })).body
    const second = await call('PUT', '/api/v1/nodes/conflict-a', {
      body: { ...first, spec: { podCIDR: '10.244.9.0/24' } },
    })
    expect(second.status).toBe(200)
    expect(Number(second.body.metadata.resourceVersion)).toBeGreaterThan(Number(first.metadata.resourceVersion))
    expect(second.body.metadata.generation).toBe(2)
    const stale = await call('PUT', '/api/v1/nodes/conflict-a', {
      body: { ...first, spec: { podCIDR: '10.244.8.0/24' } },
    })
    expect(stale.status).toBe(409)
    expect(stale.body).toMatchObject({ reason: 'Conflict', code: 409 })
    expect(stale.body.message).toContain('the object has been modified')
  })

  it('keeps spec and status apart: PUT ignores status, /status ignores the rest', async () => {
    const created = (await call('POST', '/api/v1/nodes', { body: node('split-a') })).body
    const status = { conditions: [{ type: 'Ready', status: 'True' }] }
    const viaStatus = await call('PUT', '/api/v1/nodes/split-a/status', {
      body: { ...created, spec: { unschedulable: true }, status },
    })
    expect(viaStatus.body.status).toEqual(status)
    expect(viaStatus.body.spec).toBeUndefined()
    const viaMain = await call('PUT', '/api/v1/nodes/split-a', { body: { ...viaStatus.body, status: {} } })
    expect(viaMain.body.status).toEqual(status)
  })

  it('applies merge, strategic merge and JSON patches', async () => {
    await call('POST', '/api/v1/nodes', {
      body: {
        ...node('patch-a', { keep: '1', drop: '1' }),
        status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] },
      },
    })
    const merge = await call('PATCH', '/api/v1/nodes/patch-a', {
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { drop: null, added: 'yes' } } },
    })
    expect(merge.body.metadata.labels).toEqual({ keep: '1', added: 'yes' })

    const smp = await call('PATCH', '/api/v1/nodes/patch-a/status', {
      contentType: 'application/strategic-merge-patch+json',
      body: { status: { addresses: [{ type: 'ExternalIP', address: '203.0.113.5' }] } },
    })
    expect(smp.body.status.addresses).toEqual([
      { type: 'InternalIP', address: '10.0.0.1' },
      { type: 'ExternalIP', address: '203.0.113.5' },
    ])

    const json = await call('PATCH', '/api/v1/nodes/patch-a', {
      contentType: 'application/json-patch+json',
      body: [
        { op: 'test', path: '/metadata/labels/keep', value: '1' },
        { op: 'add', path: '/metadata/annotations', value: { 'podlink.io/peer-id': 'p1' } },
        { op: 'remove', path: '/metadata/labels/added' },
      ],
    })
    expect(json.body.metadata.labels).toEqual({ keep: '1' })
    expect(json.body.metadata.annotations).toEqual({ 'podlink.io/peer-id': 'p1' })
    const failed = await call('PATCH', '/api/v1/nodes/patch-a', {
      contentType: 'application/json-patch+json',
      body: [{ op: 'test', path: '/metadata/labels/keep', value: '2' }],
    })
    expect(failed.status).toBe(422)
    const stale = await call('PATCH', '/api/v1/nodes/patch-a', {
      contentType: 'application/merge-patch+json',
      body: { metadata: { resourceVersion: '1', labels: { x: 'y' } } },
    })
    expect(stale.body).toMatchObject({ reason: 'Conflict', code: 409 })
    const apply = await call('PATCH', '/api/v1/nodes/patch-a', {
      contentType: 'application/apply-patch+yaml',
      body: {},
    })
    expect(apply.status).toBe(415)
  })
})

describe('list', () => {
  it('pages with limit and continue, in name order, with selectors', async () => {
    for (const i of [3, 1, 4, 0, 2])
      await call('POST', '/api/v1/nodes', { body: node(`page-${i}`, { suite: 'page', odd: String(i % 2) }) })
    const names: string[] = []
    let token = ''
    let pages = 0
    do {
      const query = `labelSelector=suite%3Dpage&limit=2${token === '' ? '' : `&continue=${token}`}`
      const page = (await call('GET', `/api/v1/nodes?${query}`)).body
      pages++
      names.push(...page.items.map((n: Item) => n.metadata.name))
      if (page.metadata.continue !== undefined) expect(page.metadata.remainingItemCount).toBe(5 - names.length)
      token = page.metadata.continue ?? ''
    } while (token !== '')
    expect(pages).toBe(3)
    expect(names).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4'])
    const odd = (await call('GET', '/api/v1/nodes?labelSelector=suite%3Dpage,odd%20in%20(1)')).body
    expect(odd.items.map((n: Item) => n.metadata.name)).toEqual(['page-1', 'page-3'])
    const byName = (await call('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dpage-4')).body
    expect(byName.items.map((n: Item) => n.metadata.name)).toEqual(['page-4'])
  })

  it('filters pods by spec.nodeName across namespaces', async () => {
    await call('POST', '/api/v1/namespaces', { body: { metadata: { name: 'other' } } })
    await call('POST', '/api/v1/namespaces/other/pods', {
      body: { metadata: { name: 'p1' }, spec: { nodeName: 'n1' } },
    })
    await call('POST', '/api/v1/namespaces/default/pods', {
      body: { metadata: { name: 'p2' }, spec: { nodeName: 'n1' } },
    })
    await call('POST', '/api/v1/namespaces/default/pods', {
      body: { metadata: { name: 'p3' }, spec: { nodeName: 'n2' } },
    })
    const all = (await call('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1')).body
    expect(all.items.map((p: Item) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['default/p2', 'other/p1'])
    expect(all.kind).toBe('PodList')
  })
})

describe('watch', () => {
  it('replays from a resourceVersion, sends bookmarks, ends at timeoutSeconds', async () => {
    const start = fx.server.store.resourceVersion
    await call('POST', '/api/v1/nodes', { body: node('watch-a', { suite: 'watch' }) })
    await call('DELETE', '/api/v1/nodes/watch-a')
    const events = await watchEvents(
      `/api/v1/nodes?watch=1&labelSelector=suite%3Dwatch&resourceVersion=${start}&allowWatchBookmarks=true&timeoutSeconds=1`,
    )
    expect(events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED watch-a',
      'DELETED watch-a',
    ])
    const bookmark = events.find((e) => e.type === 'BOOKMARK')
    expect(bookmark?.object).toEqual({
      kind: 'Node',
      apiVersion: 'v1',
      metadata: { resourceVersion: String(fx.server.store.resourceVersion) },
    })
  })

  it('answers a resume from before the window with an ERROR event carrying 410 Expired', async () => {
    const old = fx.server.store.resourceVersion
    await call('POST', '/api/v1/nodes', { body: node('watch-b') })
    fx.server.compact()
    const events = await watchEvents(`/api/v1/nodes?watch=true&resourceVersion=${old}`)
    expect(events).toEqual([
      { type: 'ERROR', object: expect.objectContaining({ kind: 'Status', reason: 'Expired', code: 410 }) },
    ])
    const list = await call('GET', `/api/v1/nodes?limit=1`)
    const tooOld = await call('GET', `/api/v1/nodes?limit=1&continue=${list.body.metadata.continue}`)
    expect(tooOld.status).toBe(200)
    fx.server.compact()
    await call('POST', '/api/v1/nodes', { body: node('watch-c') })
    fx.server.compact()
    expect((await call('GET', `/api/v1/nodes?limit=1&continue=${list.body.metadata.continue}`)).status).toBe(410)
  })
})

describe('discovery and tables', () => {
  it('serves resource lists with short names and Tables on request', async () => {
    const core = (await call('GET', '/api/v1')).body
    const nodes = core.resources.find((r: Item) => r.name === 'nodes')
    expect(nodes).toMatchObject({ kind: 'Node', namespaced: false, shortNames: ['no'] })
    expect(core.resources.map((r: Item) => r.name)).toContain('pods/status')
    const groups = (await call('GET', '/apis')).body.groups.map((g: Item) => g.name)
    expect(groups).toEqual(['discovery.k8s.io', 'coordination.k8s.io'])
    const table = (
      await call('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dpatch-a', {
        accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
      })
    ).body
    expect(table.kind).toBe('Table')
    expect(table.rows[0].cells.slice(0, 3)).toEqual(['patch-a', 'Unknown', '<none>'])
    expect(table.rows[0].object.kind).toBe('PartialObjectMetadata')
  })
})

describe('persistence', () => {
  it('keeps every object and the resourceVersion counter across stop and start', async () => {
    await call('POST', '/api/v1/namespaces/default/services', {
      body: { metadata: { name: 'persist' }, spec: { ports: [{ port: 80 }] } },
    })
    const before = fx.server.store.snapshot()
    const svc = fx.server.store.get(SERVICES, 'default', 'persist')!
    await fx.server.close()
    const server = await fx.restart()
    expect(server.store.snapshot()).toEqual(before)
    expect(server.store.get(SERVICES, 'default', 'persist')!.metadata.uid).toBe(svc.metadata.uid)
    // A watch resumes from the restored version without a 410, and the counter goes on.
    const rv = server.store.resourceVersion
    server.store.create(PODS, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'after-restart' } })
    expect(server.store.eventsSince(PODS, rv).map((e) => e.object.metadata.resourceVersion)).toEqual([String(rv + 1)])
    expect(server.store.get(NODES, undefined, 'patch-a')).toBeDefined()
  })
})
