/**
 * Request/response and connection load against a lab TCP echo server (greeting line, then echo), run inside a
 * pod or node namespace. Prints one JSON line.
 *   rr-load.ts rr IP:PORT ROUNDS SIZE        one connection, ROUNDS round trips of SIZE bytes (after 200 warm-up):
 *                                            { rounds, p50Ms, p99Ms, meanMs }
 *   rr-load.ts conn IP:PORT COUNT CONC       first COUNT/4 connections one at a time (time to first byte: connect
 *                                            start to the greeting), then COUNT connections CONC at a time, each
 *                                            greeting + 1 KiB echoed + close: { connPerSec, ttfbP50Ms, ttfbP99Ms, failed }
 *   rr-load.ts hold IP:PORT COUNT            opens COUNT connections (greeting read on each, 64 at a time), prints
 *                                            { held, failed, ms } and keeps them open until stdin closes or SIGTERM
 */
import { connect, type Socket } from 'node:net'
import { parseTarget } from '../probe/probe.ts'

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(s.length * p))]!
}
const round3 = (x: number): number => Math.round(x * 1000) / 1000

/** Connects and resolves with the socket once the greeting line arrived, and the ms from connect start to it. */
function open(host: string, port: number, timeoutMs: number): Promise<{ sock: Socket; ttfbMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const sock = connect({ host, port })
    sock.setNoDelay(true)
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error('timeout'))
    }, timeoutMs)
    let got = 0
    const onData = (d: Buffer): void => {
      got += d.length
      if (d.indexOf(10) < 0) return
      clearTimeout(timer)
      sock.off('data', onData)
      sock.off('error', onError)
      if (d.indexOf(10) !== d.length - 1) sock.unshift(d.subarray(d.indexOf(10) + 1))
      resolve({ sock, ttfbMs: performance.now() - started })
    }
    const onError = (err: Error): void => {
      clearTimeout(timer)
      reject(err)
    }
    sock.on('data', onData)
    sock.on('error', onError)
    sock.on('end', () => onError(new Error(`closed after ${got} bytes`)))
  })
}

/** Sends `payload` and resolves when as many bytes came back. */
function echoOnce(sock: Socket, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0
    const onData = (d: Buffer): void => {
      got += d.length
      if (got < payload.length) return
      sock.off('data', onData)
      sock.off('error', reject)
      resolve()
    }
    sock.on('data', onData)
    sock.on('error', reject)
    sock.write(payload)
  })
}

async function rr(host: string, port: number, rounds: number, size: number): Promise<object> {
  const { sock } = await open(host, port, 10_000)
  const payload = Buffer.alloc(size, 0x61)
  for (let i = 0; i < 200; i++) await echoOnce(sock, payload)
  const samples: number[] = []
  for (let i = 0; i < rounds; i++) {
    const t = performance.now()
    await echoOnce(sock, payload)
    samples.push(performance.now() - t)
  }
  sock.destroy()
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length
  return {
    rounds,
    p50Ms: round3(percentile(samples, 0.5)),
    p99Ms: round3(percentile(samples, 0.99)),
    meanMs: round3(mean),
  }
}

async function oneConnection(host: string, port: number, payload: Buffer): Promise<number> {
  const { sock, ttfbMs } = await open(host, port, 10_000)
  await echoOnce(sock, payload)
  sock.destroy()
  return ttfbMs
}

async function conn(host: string, port: number, count: number, concurrency: number): Promise<object> {
  const payload = Buffer.alloc(1024, 0x62)
  const ttfb: number[] = []
  let failed = 0
  for (let i = 0; i < Math.max(10, Math.floor(count / 4)); i++) {
    try {
      ttfb.push(await oneConnection(host, port, payload))
    } catch {
      failed++
    }
  }
  let next = 0
  let done = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++
        try {
          await oneConnection(host, port, payload)
          done++
        } catch {
          failed++
        }
      }
    }),
  )
  const secs = (performance.now() - started) / 1000
  return {
    connPerSec: Math.round(done / secs),
    ttfbP50Ms: round3(percentile(ttfb, 0.5)),
    ttfbP99Ms: round3(percentile(ttfb, 0.99)),
    connections: done,
    failed,
  }
}

async function hold(host: string, port: number, count: number): Promise<void> {
  const socks: Socket[] = []
  let failed = 0
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < count) {
        next++
        try {
          const { sock } = await open(host, port, 30_000)
          sock.on('error', () => {})
          socks.push(sock)
        } catch {
          failed++
        }
      }
    }),
  )
  console.log(JSON.stringify({ held: socks.length, failed, ms: Math.round(performance.now() - started) }))
  const stop = (): void => {
    for (const s of socks) s.destroy()
    process.exit(0)
  }
  process.stdin.on('end', stop).on('close', stop).resume()
  process.on('SIGTERM', stop)
}

const [mode, target, a, b] = process.argv.slice(2)
const { host, port } = parseTarget(target ?? '')
if (mode === 'rr') console.log(JSON.stringify(await rr(host, port, Number(a ?? 2000), Number(b ?? 1024))))
else if (mode === 'conn') console.log(JSON.stringify(await conn(host, port, Number(a ?? 500), Number(b ?? 8))))
else if (mode === 'hold') await hold(host, port, Number(a ?? 1000))
else {
  console.error('usage: rr-load.ts rr|conn|hold IP:PORT ...')
  process.exit(2)
}
