import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@podlink/core'
import { afterEach, describe, expect, it } from 'vitest'
import type { ProvenLanVerdict } from './lan-prober.ts'
import { LAN_VERDICTS_FILE, LanVerdictFile, parseLanVerdicts, serializeLanVerdicts } from './lan-verdict-file.ts'

const verdicts: ProvenLanVerdict[] = [
  { node: 'a-2', key: 'P2@192.168.1.11:4001', lan: true, reason: 'same LAN', provenAt: 1_700_000_000_000 },
  { node: 'c-1', key: 'P3@192.168.2.10:4001', lan: false, reason: 'NAT between us', provenAt: 1_700_000_000_000 },
]

describe('parseLanVerdicts', () => {
  it('reads back what was saved', () => {
    expect(parseLanVerdicts(serializeLanVerdicts(verdicts))).toEqual({ verdicts, problem: null })
  })
  it.each([
    ['not JSON', '{', 'it is not JSON'],
    ['another file', '{"apiVersion":"v1","verdicts":[]}', 'its apiVersion is not podlink.io/lan-verdicts/v1'],
    ['no list', '{"apiVersion":"podlink.io/lan-verdicts/v1"}', 'it has no verdicts list'],
  ])('%s: no verdicts and a reason', (_what, text, problem) => {
    expect(parseLanVerdicts(text)).toEqual({ verdicts: [], problem })
  })
  it('drops malformed entries and repeated nodes one by one', () => {
    const text = JSON.stringify({
      apiVersion: 'podlink.io/lan-verdicts/v1',
      verdicts: [
        verdicts[0],
        { ...verdicts[0], lan: 'yes' },
        { node: 'x' },
        null,
        { ...verdicts[1], provenAt: null },
        verdicts[0],
      ],
    })
    expect(parseLanVerdicts(text)).toEqual({ verdicts: [verdicts[0]], problem: null })
  })
})

describe('LanVerdictFile', () => {
  let dir = ''
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('saves atomically with mode 0600 and loads what it saved', async () => {
    dir = mkdtempSync(join(tmpdir(), 'lan-verdicts-'))
    const file = new LanVerdictFile(join(dir, 'state'), silentLogger)
    expect(file.load()).toEqual([])
    file.save([verdicts[0]!])
    file.save(verdicts)
    await file.flushed()
    expect(statSync(file.path).mode & 0o777).toBe(0o600)
    expect(new LanVerdictFile(join(dir, 'state'), silentLogger).load()).toEqual(verdicts)
  })

  it('a mangled file means probing afresh, with a warning', () => {
    dir = mkdtempSync(join(tmpdir(), 'lan-verdicts-'))
    writeFileSync(join(dir, LAN_VERDICTS_FILE), 'garbage')
    const warnings: string[] = []
    const log = { ...silentLogger, warn: (_f: Record<string, unknown>, msg: string) => warnings.push(msg) }
    expect(new LanVerdictFile(dir, log).load()).toEqual([])
    expect(warnings).toEqual(['Cannot use the saved LAN verdicts as it is not JSON: probing afresh'])
    expect(readFileSync(join(dir, LAN_VERDICTS_FILE), 'utf8')).toBe('garbage')
  })
})
