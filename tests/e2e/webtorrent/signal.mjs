// One WebTorrent tracker client (bittorrent-tracker's Client) that finds one other peer
// through the tracker, opens a real WebRTC data channel to it and exchanges a message.
//
//   node signal.mjs <ws://tracker/announce> <info-hash hex> <name> <other name>
//
// Prints "received <message>" and exits 0 once the other peer's message arrived over
// the data channel and ours was sent (a failed connection is retried with a new
// announce); exits 1 after 60 s or on error. No STUN, no
// other discovery: the only way the two processes learn of each other is the tracker.
import Client from 'bittorrent-tracker'
import { createHash } from 'node:crypto'

const [announce, infoHash, name, other] = process.argv.slice(2)
if (!other) {
  console.error('usage: node signal.mjs <tracker url> <info-hash> <name> <other name>')
  process.exit(2)
}
// 20-byte peer id from the name, so each process has its own.
const peerId = createHash('sha1').update(name).digest('hex')
const client = new Client({
  infoHash,
  peerId,
  announce: [announce],
  port: 6881,
  rtcConfig: { iceServers: [], bindAddress: '127.0.0.1' }
})

const fail = (why) => {
  console.error(`${name}: ${why}`)
  process.exit(1)
}
const timer = setTimeout(() => fail('timed out'), 60_000)
let sent = false
let received = null
const finish = () => {
  if (sent && received) {
    console.log(`received ${received}`)
    clearTimeout(timer)
    client.destroy()
    // Let the data channel flush before leaving.
    setTimeout(() => process.exit(0), 500)
  }
}

client.on('error', (err) => fail(`tracker error: ${err.message}`))
client.on('warning', (err) => console.error(`${name}: warning: ${err.message}`))
client.on('update', (data) => console.error(`${name}: ${data.complete} seeders, ${data.incomplete} leechers`))
client.on('peer', (peer) => {
  console.error(`${name}: got a peer from the tracker`)
  peer.on('error', (err) => {
    console.error(`${name}: peer error: ${err.message}`)
    // An ICE attempt can fail on a loaded machine: announce again for fresh offers,
    // as a client would (the 60 s timer still bounds the whole try).
    if (!received) setTimeout(() => client.update(), 1000)
  })
  const hello = () => {
    console.error(`${name}: connected, saying hello`)
    peer.send(`hello from ${name}`)
    sent = true
    finish()
  }
  if (peer.connected) hello()
  else peer.once('connect', hello)
  peer.on('data', (data) => {
    const text = Buffer.from(data).toString()
    console.error(`${name}: data ${text}`)
    if (text === `hello from ${other}`) {
      received = text
      finish()
    }
  })
})
client.start()
