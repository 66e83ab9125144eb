// Drives shoal's catalog pages in Debian's headless Chromium (playwright-core): search
// with filters in English, Russian and Chinese, open a torrent, expand a folder of its
// file tree, read the magnet, download the .torrent, and check that no page scrolls
// sideways on a phone-sized window. Saves screenshots.
//
//   node catalog.mjs <http://127.0.0.1:PORT> <out dir> <spec JSON>
//
// spec: {"en": {"q", "cat", "hash", "mark"}, "ru": {...}, "zh": {...}}: for each
// language, the words to type, the category to pick (or ""), the info-hash the first
// result must be and a word that must be marked in its name. The English torrent's
// page is walked and its .torrent saved as <out dir>/downloaded.torrent.
// Exits 0 after printing "ok" when every check passed; prints what failed otherwise.
import { join } from 'node:path'
import { args, base, fail, launch, outDir, shot } from './common.mjs'

const spec = JSON.parse(args[0])
const browser = await launch()
try {
  const context = await browser.newContext({ javaScriptEnabled: false, acceptDownloads: true, viewport: { width: 1100, height: 800 } })
  const page = await context.newPage()

  // Search in each language through the form, as a person would.
  for (const lang of ['en', 'ru', 'zh']) {
    const s = spec[lang]
    await page.goto(`${base}/catalog?lang=${lang}`)
    if (await page.getAttribute('html', 'lang') !== lang) fail(`/catalog is not in ${lang}`)
    await page.fill('#q', s.q)
    if (s.cat) await page.selectOption('#f-cat', s.cat)
    await Promise.all([page.waitForURL(/\/catalog\?.*q=/), page.press('#q', 'Enter')])
    const first = page.locator('table.results tbody tr').first()
    if (await first.count() === 0) fail(`${lang}: no results for ${s.q}`)
    const href = await first.locator(`a[href^="/torrent/"]`).first().getAttribute('href')
    if (href !== `/torrent/${s.hash}`) fail(`${lang}: first result links ${href}, want /torrent/${s.hash}`)
    const marks = await first.locator('mark').allTextContents()
    if (!marks.some((m) => m.toLowerCase() === s.mark.toLowerCase())) fail(`${lang}: marked ${JSON.stringify(marks)}, want ${s.mark}`)
    if (s.cat && !page.url().includes(`cat=${s.cat}`)) fail(`${lang}: the category was not sent: ${page.url()}`)
    await shot(page, `catalog-${lang}`)
  }

  // A filter that excludes it: no such row.
  await page.goto(`${base}/catalog?lang=en&q=${encodeURIComponent(spec.en.q)}&cat=books`)
  if (await page.locator(`a[href="/torrent/${spec.en.hash}"]`).count() !== 0) fail('the category filter let the video through')

  // Its page: the tree's folders open without JavaScript, the magnet, the .torrent.
  await page.goto(`${base}/catalog?lang=en&q=${encodeURIComponent(spec.en.q)}`)
  await Promise.all([page.waitForURL(new RegExp(`/torrent/${spec.en.hash}$`)), page.click(`table.results a[href="/torrent/${spec.en.hash}"]`)])
  // A handle, not a locator: once open, the element no longer matches the selector.
  const closed = await page.locator('details:not([open])').first().elementHandle({ timeout: 5000 }).catch(() => null)
  if (!closed) fail('the file tree has no closed folder')
  await (await closed.$('summary')).click()
  if (await closed.getAttribute('open') === null) fail('clicking a folder did not open it')
  const magnet = await page.getAttribute('a.magnet', 'href')
  if (!magnet || !magnet.startsWith(`magnet:?xt=urn:btih:${spec.en.hash}`)) fail(`bad magnet ${magnet}`)
  console.log(`magnet ${magnet}`)
  await shot(page, 'torrent-en')
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click(`a[href="/torrent/${spec.en.hash}.torrent"]`)
  ])
  const saved = join(outDir, 'downloaded.torrent')
  await download.saveAs(saved)
  console.log(`downloaded ${saved} (${download.suggestedFilename()})`)
  await page.goto(`${base}/torrent/${spec.ru.hash}?lang=ru`)
  await shot(page, 'torrent-ru')
  await page.goto(`${base}/?lang=zh`)
  if (await page.locator('form[action="/catalog"]').count() === 0) fail('the overview has no search box')
  await shot(page, 'overview-zh')

  // A phone: nothing wider than the screen.
  const phone = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 375, height: 740 }, isMobile: true })
  const p = await phone.newPage()
  for (const [name, path] of [
    ['phone-catalog-ru', `/catalog?lang=ru&q=${encodeURIComponent(spec.ru.q)}`],
    ['phone-catalog-zh', `/catalog?lang=zh`],
    ['phone-torrent-en', `/torrent/${spec.en.hash}?lang=en`],
    ['phone-overview-en', '/?lang=en']
  ]) {
    await p.goto(`${base}${path}`)
    const [scroll, client] = await p.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth])
    if (scroll > client) fail(`${path}: ${scroll} px wide on a ${client} px screen`)
    await shot(p, name)
  }
  console.log('ok')
} finally {
  await browser.close()
}
