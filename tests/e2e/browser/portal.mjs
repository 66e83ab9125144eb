// Drives the site's account pages in Debian's headless Chromium (playwright-core):
// registers with an invite, uploads a .torrent through the upload form (it waits for a
// moderator), logs out, logs in as an account with traffic, checks the account page,
// switches language; an admin approves the upload on /admin; the new account then
// finds it published on "My uploads" and downloads it with its passkey (saved as
// portal-downloaded.torrent in the screenshot dir). Saves screenshots of every page.
//
//   node portal.mjs <http://127.0.0.1:PORT> <screenshot dir> <invite code> <passkey of alice>
//        <.torrent to upload>
//
// Alice and root (an admin) have the password "correct horse". Prints `added <hex>`
// (the uploaded torrent's info-hash) and exits 0 when every check passed; prints what
// failed otherwise.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { args, base, fail, launch, outDir, shot, login } from './common.mjs'

const [invite, alicePasskey, torrentPath] = args
const title = 'Carol’s holiday films'
// Fails unless the page is at most as wide as its viewport.
const fits = async (page, what) => {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  if (overflow > 0) fail(`${what} is ${overflow}px wider than the screen`)
}

const browser = await launch()
try {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 } })
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))

  // Register with the invite (the link carries it), land on the new account.
  await page.goto(`${base}/register?invite=${invite}`)
  if (await page.inputValue('input[name="invite"]') !== invite) fail('the invite code was not filled in')
  await page.fill('input[name="name"]', 'carol')
  await page.fill('input[name="password"]', 'long enough')
  await page.fill('input[name="password2"]', 'long enough')
  await shot(page, 'portal-register-en')
  await page.click('form[action="/register"] button[type="submit"]')
  await page.waitForURL(/\/account$/)
  const carolKey = (await page.textContent('#passkey')).trim()
  if (!/^[0-9a-f]{32}$/.test(carolKey)) fail(`carol's passkey reads ${carolKey}`)
  const cookies = await context.cookies()
  const session = cookies.find((c) => c.name === 'shoal_session')
  if (!session || !session.httpOnly || session.sameSite !== 'Lax') fail(`session cookie ${JSON.stringify(session)}`)

  // Carol (a user: her uploads wait for a moderator) uploads a .torrent through the form.
  if (await page.locator('a[href="/admin"]').count() !== 0) fail('a user sees the Administration link')
  await page.click('nav.account-links a[href="/upload"]')
  await page.waitForURL(/\/upload$/)
  if (!(await page.textContent('main')).includes("wait for a moderator's approval")) fail('/upload does not say uploads wait')
  await page.setInputFiles('input[name="torrent"]', torrentPath)
  await page.fill('input[name="title"]', title)
  await page.selectOption('select[name="category"]', 'video')
  await page.fill('textarea[name="description"]', 'Two days at the sea.\n<b>Not bold</b>, as written.')
  await shot(page, 'portal-upload-en')
  await page.click('form[action="/upload"] button[type="submit"]')
  await page.waitForURL(/\/account\/uploads\?added=[0-9a-f]{40}$/)
  const added = new URL(page.url()).searchParams.get('added')
  if (!(await page.textContent('p.notice')).includes('waits for')) fail('no "waits for approval" notice')
  const row = page.locator('main tbody tr')
  if (await row.count() !== 1) fail(`My uploads lists ${await row.count()} torrents`)
  const cells = await row.textContent()
  if (!cells.includes(title) || !cells.includes('Waiting for approval')) fail(`My uploads row reads ${cells}`)
  if (await row.locator('a[href$=".torrent"]').count() !== 0) fail('a pending upload has a download link')
  await shot(page, 'portal-uploads-en')

  // Log out: back to the login form, and /account sends there.
  await page.goto(`${base}/account`)
  await page.click('form[action="/logout"] button')
  await page.waitForURL(/\/login$/)
  await shot(page, 'portal-login-en')
  await page.goto(`${base}/account`)
  if (!page.url().endsWith('/login')) fail('/account without a session did not go to /login')

  // Alice has traffic: totals and a torrent seeding now.
  await login(page, 'alice', 'correct horse')
  if ((await page.textContent('#passkey')).trim() !== alicePasskey) fail("alice's passkey is not shown")
  const body = await page.textContent('main')
  if (!body.includes('5.0\u00a0MiB')) fail('the uploaded total is not shown')
  if (await page.locator('section[aria-labelledby="h-seeding"] tbody tr').count() !== 1) fail('no torrent seeding now')
  if (await page.locator('section[aria-labelledby="h-leeching"] tbody tr').count() !== 1) fail('no torrent leeching now')
  if (body.includes(carolKey)) fail("carol's passkey on alice's page")
  await shot(page, 'portal-account-en')
  await page.click('a[hreflang="ru"]')
  await page.waitForURL(/lang=ru/)
  if ((await page.textContent('h1')).trim() !== 'Профиль') fail('the account page is not in Russian')
  await shot(page, 'portal-account-ru')

  // A phone in Chinese, dark: nothing wider than the screen.
  const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, colorScheme: 'dark' })
  const p2 = await phone.newPage()
  await login(p2, 'alice', 'correct horse')
  if (await p2.getAttribute('html', 'lang') !== 'zh') fail('Accept-Language zh did not choose Chinese')
  const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  if (overflow > 0) fail(`the account page is ${overflow}px wider than a phone screen`)
  await shot(p2, 'portal-account-zh-phone-dark')
  for (const [path, name] of [['/upload', 'upload'], ['/account/uploads', 'uploads']]) {
    await p2.goto(`${base}${path}`)
    await shot(p2, `portal-${name}-zh-phone-dark`)
    await fits(p2, `${path} in Chinese`)
  }

  // Root (an admin) approves Carol's upload on /admin, in English, then looks at the
  // page in Ukrainian and on a phone.
  const adminContext = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 800 } })
  const admin = await adminContext.newPage()
  admin.on('pageerror', (e) => errors.push(e.message))
  await login(admin, 'root', 'correct horse')
  await admin.click('nav.account-links a[href="/admin"]')
  await admin.waitForURL(/\/admin$/)
  const pending = admin.locator('section[aria-labelledby="h-pending"] tbody tr')
  if (await pending.count() !== 1 || !(await pending.textContent()).includes(title)) fail("carol's upload is not pending on /admin")
  if (!(await pending.textContent()).includes('carol')) fail('the uploader is not shown')
  await shot(admin, 'portal-admin-en')
  await pending.locator('form:has(input[name="action"][value="approve"]) button').click()
  await admin.waitForURL(/\/admin\?done=/)
  if (await pending.count() !== 0) fail('the approved upload is still pending')
  const published = admin.locator('section[aria-labelledby="h-freeleech"] tbody tr')
  if (!(await published.textContent()).includes('Published')) fail('the approved upload is not listed as published')
  await admin.goto(`${base}/admin?lang=uk`)
  if ((await admin.textContent('h1')).trim() !== 'Адміністрування') fail('/admin is not in Ukrainian')
  await shot(admin, 'portal-admin-uk')
  const phoneAdmin = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 844 } })
  const p3 = await phoneAdmin.newPage()
  await login(p3, 'root', 'correct horse')
  await p3.goto(`${base}/admin`)
  await shot(p3, 'portal-admin-en-phone')
  await fits(p3, '/admin')

  // Carol, in Ukrainian: her upload is published, with a download link that gives the
  // .torrent with her passkey.
  const ukContext = await browser.newContext({ locale: 'uk-UA', viewport: { width: 1100, height: 800 } })
  const uk = await ukContext.newPage()
  uk.on('pageerror', (e) => errors.push(e.message))
  await login(uk, 'carol', 'long enough')
  if (await uk.getAttribute('html', 'lang') !== 'uk') fail('Accept-Language uk did not choose Ukrainian')
  await shot(uk, 'portal-account-uk')
  await uk.click('nav.account-links a[href="/account/uploads"]')
  await uk.waitForURL(/\/account\/uploads$/)
  const mine = uk.locator('main tbody tr')
  if (!(await mine.textContent()).includes('Опубліковано')) fail('the upload is not published on My uploads')
  await shot(uk, 'portal-uploads-uk')
  const [download] = await Promise.all([
    uk.waitForEvent('download'),
    mine.locator(`a[href="/download/${added}.torrent"]`).click()
  ])
  if (!download.suggestedFilename().endsWith('.torrent')) fail(`downloaded ${download.suggestedFilename()}`)
  const file = join(outDir, 'portal-downloaded.torrent')
  await download.saveAs(file)
  const bytes = readFileSync(file).toString('latin1')
  if (!bytes.startsWith('d') || !bytes.includes(`/announce/${carolKey}`)) fail("the .torrent has no announce URL with carol's passkey")
  await uk.goto(`${base}/upload`)
  await shot(uk, 'portal-upload-uk')
  console.log(`added ${added}`)

  if (errors.length) fail(`script errors: ${errors.join('; ')}`)
  console.log('ok')
} finally {
  await browser.close()
}
