/** A CliContext over a fixed status (or a failing client) that records what a command printed. */
import type { AgentStatus, DestinationTrace, PingEvent } from '@podlink/core'
import { PodlinkError } from '@podlink/core'
import type { AgentClient } from '../agent-client.ts'
import type { CliContext } from '../command.ts'
import { noColour } from '../render/colour.ts'
import { FIXTURE_NOW } from './fixture-status.ts'

export interface FakeCli {
  readonly ctx: CliContext
  readonly out: string[]
  readonly err: string[]
  /** Watch redraws wait on this; the Nth call aborts the signal, ending the loop. */
  sleeps: number
}

export function fakeCli(opts: {
  status?: AgentStatus
  trace?: DestinationTrace
  ping?: readonly PingEvent[]
  noAgent?: boolean
  /** Redraws before `--watch` stops. */
  watchRounds?: number
}): FakeCli {
  const controller = new AbortController()
  const fail = (): never => {
    throw new PodlinkError(
      'ERR_NO_AGENT',
      'Cannot reach the podlink agent at /nowhere (ENOENT): is podlink-agent running on this node?',
    )
  }
  const client: AgentClient = {
    status: async () => (opts.noAgent || !opts.status ? fail() : opts.status),
    trace: async (dst) => {
      if (opts.noAgent) fail()
      if (!/^[0-9.:[\]a-f]+(\/(tcp|udp))?$/.test(dst))
        throw new PodlinkError('ERR_AGENT_BAD_REQUEST', `Cannot trace ${dst} as the agent answered 400`)
      return opts.trace ?? fail()
    },
    ping: async function* () {
      if (opts.noAgent) fail()
      yield* opts.ping ?? []
    },
  }
  const fake: FakeCli = {
    out: [],
    err: [],
    sleeps: 0,
    ctx: {
      out: (t) => fake.out.push(t),
      err: (t) => fake.err.push(t),
      env: {},
      isTTY: false,
      paint: noColour,
      client,
      now: () => FIXTURE_NOW,
      signal: controller.signal,
      sleep: async () => {
        fake.sleeps++
        if (fake.sleeps >= (opts.watchRounds ?? 1)) controller.abort()
      },
    },
  }
  return fake
}
