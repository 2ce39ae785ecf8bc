// Lab helper processes (run inside a namespace with `ip netns exec`):
//   serve <name> <addr,addr>     TCP on :80 and [::]:80 answering "<name> <local addr>:<port>"; UDP echo on <addr>:5300
//   tcp <host> <port>            prints what the server answered, or "ERR <message>"
//   udp <host> <port>            prints "<reply> from <address>:<port>", or "ERR <message>"
//   udp-multi <h:p,h:p> <n>      one IPv4 socket sends n datagrams to each target, interleaved; expects each reply to
//                                be "agent <target> <payload>" from <target>; prints "ok <replies>" or "ERR <first bad>"
//   syncer                       runs the dataplane on exampleTables() until killed (prints "ready")
import dgram from 'node:dgram'
import net from 'node:net'

const [mode, a = '', b = '0'] = process.argv.slice(2)
const fail = (e: unknown) => {
  console.log(`ERR ${e instanceof Error ? e.message : String(e)}`)
  process.exit(0)
}
if (mode === 'tcp' || mode === 'udp' || mode === 'udp-multi') setTimeout(() => fail('timeout'), 4000).unref()

if (mode === 'serve') {
  for (const host of ['0.0.0.0', '::']) {
    net
      .createServer((s) => s.end(`${a} ${s.localAddress}:${s.localPort}\n`))
      .listen({ host, port: 80, ipv6Only: host === '::' })
  }
  // UDP bound per address, so that replies leave from the address the client sent to.
  for (const host of (b === '0' ? '' : b).split(',').filter(Boolean)) {
    const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4')
    u.on('message', (m, r) => u.send(`${a} echo ${m}`, r.port, r.address))
    u.bind(5300, host)
  }
  setTimeout(() => console.log('ready'), 200)
  setInterval(() => {}, 1 << 30)
} else if (mode === 'tcp') {
  const s = net.connect({ host: a, port: Number(b) })
  let got = ''
  s.on('data', (d) => {
    got += d
  })
  s.on('end', () => {
    console.log(got.trim())
    process.exit(0)
  })
  s.on('error', fail)
} else if (mode === 'udp') {
  const u = dgram.createSocket(net.isIPv6(a) ? 'udp6' : 'udp4')
  u.on('message', (m, r) => {
    console.log(`${m} from ${r.address}:${r.port}`)
    process.exit(0)
  })
  u.send('hi', Number(b), a)
} else if (mode === 'udp-multi') {
  const targets = a.split(',').map((t) => {
    const i = t.lastIndexOf(':')
    return { host: t.slice(0, i), port: Number(t.slice(i + 1)) }
  })
  const n = Number(b)
  const want = new Set<string>()
  const u = dgram.createSocket('udp4')
  u.on('message', (m, r) => {
    const text = String(m)
    const from = `${r.address}:${r.port}`
    const [, dst = '', payload = ''] = text.split(' ')
    if (dst !== from || !want.delete(`${dst} ${payload}`)) fail(`unexpected "${text}" from ${from}`)
    if (want.size === 0) {
      console.log(`ok ${n * targets.length}`)
      process.exit(0)
    }
  })
  for (let i = 0; i < n; i++) {
    for (const t of targets) {
      want.add(`${t.host}:${t.port} m${i}`)
      u.send(`m${i}`, t.port, t.host)
    }
  }
} else if (mode === 'syncer') {
  const { createDataplane, createNetfilter } = await import('../index.ts')
  const { exampleTables } = await import('../testing/index.ts')
  const dp = createDataplane({ netfilter: await createNetfilter() }, { kubeProxy: true })
  await dp.start(exampleTables())
  console.log('ready')
  setInterval(() => {}, 1 << 30)
}
