// Drives shoal's dashboard in Debian's headless Chromium (playwright-core, no browser
// download): checks the counters against what the test announced, switches language,
// walks the top-torrents and torrent pages, and saves screenshots.
//
//   node dashboard.mjs <http://127.0.0.1:PORT> <screenshot dir> <torrents> <peers>
//
// Exits 0 when every check passed; prints what failed otherwise.
import { args, base, fail, launch, shot } from './common.mjs'

const [wantTorrents, wantPeers] = args
const digits = (s) => Number((s || '').replace(/[^0-9]/g, ''))

const browser = await launch()
try {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 } })
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))

  // Overview, in English from Accept-Language; the live script refreshes it.
  await page.goto(`${base}/`)
  if (await page.getAttribute('html', 'lang') !== 'en') fail('overview is not in English')
  await page.waitForFunction(() => document.documentElement.dataset.live === 'on', null, { timeout: 15000 })
  const torrents = digits(await page.textContent('[data-stat="torrents"]'))
  const peers = digits(await page.textContent('[data-stat="peers_all"]'))
  if (torrents !== Number(wantTorrents)) fail(`torrents shows ${torrents}, want ${wantTorrents}`)
  if (peers !== Number(wantPeers)) fail(`peers shows ${peers}, want ${wantPeers}`)
  await shot(page, 'overview-en')

  // Switch to Russian: the page and every later page speak it (cookie).
  await page.click('a[hreflang="ru"]')
  await page.waitForURL(/lang=ru/)
  if (await page.getAttribute('html', 'lang') !== 'ru') fail('language switch did not apply')
  if ((await page.textContent('h1')).trim() !== 'Обзор') fail('overview heading is not Russian')
  await shot(page, 'overview-ru')

  await page.click('nav[aria-label] a[href="/torrents"]')
  await page.waitForURL(/\/torrents$/)
  if (await page.getAttribute('html', 'lang') !== 'ru') fail('the language was not remembered')
  const rows = await page.locator('tbody tr').count()
  if (rows !== Number(wantTorrents)) fail(`top torrents lists ${rows} rows, want ${wantTorrents}`)
  await page.click('th a[href="/torrents?sort=seeders"]')
  await page.waitForURL(/sort=seeders/)
  if (!(await page.getAttribute('th[aria-sort]', 'aria-sort'))) fail('sorted column not marked')
  await shot(page, 'torrents-ru')

  // The first torrent's page: its hash, counts and a magnet link.
  const href = await page.getAttribute('tbody tr:first-child a.hash', 'href')
  await page.click('tbody tr:first-child a.hash')
  await page.waitForURL(new RegExp(href.replace(/[/]/g, '\\/') + '$'))
  const hash = href.split('/').pop()
  const magnet = await page.getAttribute('a.magnet', 'href')
  if (!magnet || !magnet.startsWith(`magnet:?xt=urn:btih:${hash}`)) fail(`bad magnet link ${magnet}`)
  await shot(page, 'torrent-ru')

  await page.goto(`${base}/clients?lang=en`)
  if ((await page.locator('svg.chart rect').count()) < 1) fail('clients chart is empty')
  await shot(page, 'clients-en')
  // Trends: the test samples every second; reload until each of the four charts has a
  // line of at least two samples and the torrents chart ends at what was announced.
  for (let tries = 0; ; tries++) {
    await page.goto(`${base}/trends?lang=en`)
    const lines = page.locator('svg.chart polyline')
    const charts = await lines.count()
    const points = charts ? (await lines.first().getAttribute('points')).split(' ').length : 0
    const desc = charts ? await page.textContent('#torrents-d') : ''
    if (charts === 4 && points >= 2 && desc.endsWith(`now ${wantTorrents}`)) break
    if (tries >= 40) fail(`trends: ${charts} charts, ${points} torrents samples, "${desc}"`)
    await page.waitForTimeout(250)
  }
  await shot(page, 'trends-en')

  // A phone: nothing wider than the screen; dark mode follows the system.
  const phone = await browser.newContext({ locale: 'uk-UA', viewport: { width: 390, height: 844 }, colorScheme: 'dark' })
  const p2 = await phone.newPage()
  await p2.goto(`${base}/`)
  if (await p2.getAttribute('html', 'lang') !== 'uk') fail('Accept-Language uk did not choose Ukrainian')
  const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  if (overflow > 0) fail(`page is ${overflow}px wider than a phone screen`)
  const bg = await p2.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)
  if (bg === 'rgb(251, 251, 250)') fail('dark mode did not apply')
  await shot(p2, 'overview-uk-phone-dark')

  if (errors.length) fail(`script errors: ${errors.join('; ')}`)
  console.log('ok')
} finally {
  await browser.close()
}
