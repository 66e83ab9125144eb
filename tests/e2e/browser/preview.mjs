// Drives a torrent page's preview in Debian's headless Chromium (playwright-core): in
// English, then through the language links in Russian, Ukrainian and Chinese, the
// section's heading, the gallery's thumbnail loaded and decoded at its size, the .nfo
// text shown, and a click on the thumbnail opening the full-size PNG. The page must
// report no script error and no CSP violation. Saves a screenshot per language. Then an
// admin (root, "correct horse") denies the cover on the site's admin page: it is on the
// deny list there, and gone from the torrent page and its URL.
//
//   node preview.mjs <http://127.0.0.1:PORT> <out dir> <spec JSON>
//
// spec: {"hash": the torrent's info-hash, "sha256": the cover's, "thumb": [width,
// height], "nfo": a line of the .nfo, "headings": {"en": ..., "ru": ..., ...}}.
// Exits 0 after printing "ok" when every check passed; prints what failed otherwise.
import { args, base, fail, launch, login, shot } from './common.mjs'

const spec = JSON.parse(args[0])
const browser = await launch()
try {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 } })
  const page = await context.newPage()
  // What the torrent page reports: script errors and console errors, CSP violations
  // among them ("Refused to load ..."). The sandboxed PNG's own document is not counted.
  const errors = []
  const torrentPage = new RegExp(`/torrent/${spec.hash}`)
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error' && torrentPage.test(m.location().url || page.url())) errors.push(`${m.location().url}: ${m.text()}`)
  })

  const full = `/preview/${spec.sha256}/full.png`
  const thumb = `/preview/${spec.sha256}/thumb.png`
  await page.goto(`${base}/torrent/${spec.hash}?lang=en`)
  for (const lang of ['en', 'ru', 'uk', 'zh']) {
    if (lang !== 'en') {
      await Promise.all([page.waitForURL(new RegExp(`lang=${lang}`)), page.click(`a[hreflang="${lang}"]`)])
    }
    if (await page.getAttribute('html', 'lang') !== lang) fail(`the torrent page is not in ${lang}`)
    const heading = (await page.textContent('#h-preview')).trim()
    if (heading !== spec.headings[lang]) fail(`${lang}: the preview heading is ${JSON.stringify(heading)}, want ${spec.headings[lang]}`)

    // The thumbnail: lazy, so brought into view, then loaded and decoded at its size.
    const link = page.locator(`section[aria-labelledby="h-preview"] .gallery figure a[href="${full}"]`)
    if (await link.count() !== 1) fail(`${lang}: no gallery link to ${full}`)
    const img = link.locator(`img[src="${thumb}"]`)
    await img.scrollIntoViewIfNeeded()
    const loaded = await img.evaluate((i) => new Promise((resolve) => {
      const done = () => resolve(i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null)
      if (i.complete) done()
      else { i.addEventListener('load', done); i.addEventListener('error', done) }
    }))
    if (!loaded) fail(`${lang}: the thumbnail did not load`)
    if (loaded[0] !== spec.thumb[0] || loaded[1] !== spec.thumb[1]) fail(`${lang}: the thumbnail is ${loaded.join('x')}, want ${spec.thumb.join('x')}`)
    if (!(await img.isVisible())) fail(`${lang}: the thumbnail is not visible`)
    const caption = await link.locator('xpath=..').locator('figcaption').textContent()
    if (!caption.includes('cover.jpg')) fail(`${lang}: the caption is ${JSON.stringify(caption)}`)

    // The .nfo, decoded from CP1251, shown in its open box.
    const nfo = page.locator('details.preview-text pre.nfo', { hasText: spec.nfo })
    if (await nfo.count() !== 1 || !(await nfo.isVisible())) fail(`${lang}: the .nfo text is not shown`)
    await shot(page, `preview-${lang}`)

    // A click on the thumbnail opens the full-size copy.
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(full)),
      page.waitForURL((u) => u.pathname === full),
      link.click()
    ])
    const type = response.headers()['content-type']
    if (response.status() !== 200 || type !== 'image/png') fail(`${lang}: ${full} answered ${response.status()} ${type}`)
    await page.goBack()
    await page.waitForURL(torrentPage)
  }
  if (errors.length) fail(`the torrent page reported errors: ${errors.join('; ')}`)

  // Moderation on the admin page.
  const admin = await (await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 } })).newPage()
  admin.on('pageerror', (e) => errors.push(`${admin.url()}: ${e.message}`))
  await login(admin, 'root', 'correct horse')
  await admin.goto(`${base}/admin`)
  const section = admin.locator('section[aria-labelledby="h-preview-moderation"]')
  if ((await section.locator('h2').textContent()).trim() !== 'Content preview') fail('no preview section on /admin')
  await section.locator('form:has(input[name="action"][value="deny"]) input[name="sha256"]').fill(spec.sha256)
  await Promise.all([
    admin.waitForURL(/\/admin\?done=preview/),
    section.locator('form:has(input[name="action"][value="deny"]) button').click()
  ])
  const denied = section.locator('tbody tr', { hasText: spec.sha256 })
  if (await denied.count() !== 1) fail('the denied cover is not on the deny list')
  await shot(admin, 'preview-admin-en')
  await admin.goto(`${base}/admin?lang=zh`)
  await shot(admin, 'preview-admin-zh')
  await page.goto(`${base}/torrent/${spec.hash}`)
  if (await page.locator(`img[src="${thumb}"]`).count() !== 0) fail('the denied cover is still in the gallery')
  const gone = await page.request.get(`${base}${thumb}`)
  if (gone.status() !== 404) fail(`the denied cover answers ${gone.status()}`)
  if (errors.length) fail(`errors: ${errors.join('; ')}`)
  console.log('ok')
} finally {
  await browser.close()
}
