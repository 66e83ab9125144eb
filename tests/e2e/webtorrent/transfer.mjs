// A WebTorrent client (the `webtorrent` package) that seeds or downloads one file over
// WebRTC, finding its peer only through the tracker given.
//
//   node transfer.mjs seed  <ws://tracker/announce> <dir>
//       writes <dir>/data.bin (2 MiB of random bytes) and <dir>/data.torrent, seeds it,
//       prints "seeding <info-hash> <sha256>" and keeps seeding (at most 120 s)
//   node transfer.mjs leech <ws://tracker/announce> <torrent file> <out dir> <sha256>
//       downloads into <out dir>, checks the SHA-256, prints "done <sha256> over <wire types>"
//
// DHT, local discovery, uTP, UPnP/NAT-PMP and web seeds are off and the torrent names no
// other tracker, so peers can only meet through the one given. Exit 0 on success.
import WebTorrent from 'webtorrent'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'

const [role, tracker, ...rest] = process.argv.slice(2)
const client = new WebTorrent({
  dht: false,
  lsd: false,
  utp: false,
  natUpnp: false,
  natPmp: false,
  webSeeds: false,
  tracker: { rtcConfig: { iceServers: [], bindAddress: '127.0.0.1' } }
})
const fail = (why) => {
  console.error(`${role}: ${why}`)
  process.exit(1)
}
client.on('error', (err) => fail(`client error: ${err.message || err}`))
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex')

if (role === 'seed') {
  const [dir] = rest
  mkdirSync(dir, { recursive: true })
  const data = randomBytes(2 * 1024 * 1024)
  const file = join(dir, 'data.bin')
  writeFileSync(file, data)
  client.seed(file, { announceList: [[tracker]] }, (torrent) => {
    writeFileSync(join(dir, 'data.torrent'), torrent.torrentFile)
    torrent.on('warning', (err) => console.error(`seed: warning: ${err.message || err}`))
    torrent.on('wire', (wire) => console.error(`seed: connected to a peer over ${wire.type}`))
    torrent.on('upload', () => {})
    console.log(`seeding ${torrent.infoHash} ${sha256(data)}`)
  })
  setTimeout(() => fail('still seeding after 120 s'), 120_000)
} else if (role === 'leech') {
  const [torrentFile, outDir, want] = rest
  const started = Date.now()
  client.add(readFileSync(torrentFile), { path: outDir, announce: [tracker] }, (torrent) => {
    torrent.on('warning', (err) => console.error(`leech: warning: ${err.message || err}`))
    torrent.on('wire', (wire) => console.error(`leech: connected to a peer over ${wire.type}`))
    torrent.on('done', () => {
      const got = sha256(readFileSync(join(outDir, torrent.files[0].path)))
      if (got !== want) fail(`checksum mismatch: ${got} != ${want}`)
      const types = [...new Set(torrent.wires.map((w) => w.type))].join(',')
      if (types !== 'webrtc') fail(`expected only WebRTC wires, got ${types}`)
      console.log(`done ${got} over ${types} in ${Date.now() - started} ms`)
      client.destroy(() => process.exit(0))
    })
  })
  setTimeout(() => fail('download did not finish in 90 s'), 90_000)
} else {
  console.error('usage: node transfer.mjs seed <tracker> <dir> | leech <tracker> <torrent> <out dir> <sha256>')
  process.exit(2)
}
