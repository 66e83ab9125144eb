// The dashboard of a node among several, in Debian's headless Chromium: the Cluster
// section lists every node, charts their share of the peers, and fits a phone's width.
//
//   node cluster.mjs <http://127.0.0.1:PORT> <screenshot dir> <nodes> <peers>
//
// Exits 0 when every check passed; prints what failed otherwise.
import { args, base, fail, launch, shot } from './common.mjs'

const [wantNodes, wantPeers] = args
const digits = (s) => Number((s || '').replace(/[^0-9]/g, ''))

const browser = await launch()
try {
  for (const [lang, width, dark] of [['en', 1100, false], ['uk', 1100, false], ['zh', 390, true]]) {
    const context = await browser.newContext({
      locale: lang, viewport: { width, height: 800 }, colorScheme: dark ? 'dark' : 'light'
    })
    const page = await context.newPage()
    const errors = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(`${base}/?lang=${lang}`)
    const section = page.locator('section[aria-labelledby="h-cluster"]')
    if (await section.count() !== 1) fail(`${lang}: no cluster section`)
    const rows = await section.locator('tbody tr').count()
    if (rows !== Number(wantNodes)) fail(`${lang}: ${rows} node rows, want ${wantNodes}`)
    const bars = await section.locator('svg.chart rect').count()
    if (bars !== Number(wantNodes)) fail(`${lang}: ${bars} bars, want ${wantNodes}`)
    const nodes = digits(await page.textContent('[data-stat="cluster.nodes"]'))
    const peers = digits(await page.textContent('[data-stat="cluster.peers"]'))
    if (nodes !== Number(wantNodes)) fail(`${lang}: ${nodes} nodes online, want ${wantNodes}`)
    if (peers !== Number(wantPeers)) fail(`${lang}: ${peers} peers, want ${wantPeers}`)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    if (overflow > 0) fail(`${lang}: the page is ${overflow}px wider than the screen`)
    if (errors.length) fail(`${lang}: script errors: ${errors.join('; ')}`)
    await section.scrollIntoViewIfNeeded()
    const name = `overview-cluster-${lang}${width < 500 ? '-phone' : ''}${dark ? '-dark' : ''}`
    await shot(page, name)
    await context.close()
  }
  console.log('ok')
} finally {
  await browser.close()
}
