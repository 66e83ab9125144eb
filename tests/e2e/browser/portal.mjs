// Drives the site's account pages in Debian's headless Chromium (playwright-core):
// registers with an invite, logs out, logs in as an account with traffic, checks the
// account page, switches language, and saves screenshots.
//
//   node portal.mjs <http://127.0.0.1:PORT> <screenshot dir> <invite code> <passkey of alice>
//
// Exits 0 when every check passed; prints what failed otherwise.
import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

const [base, outDir, invite, alicePasskey] = process.argv.slice(2)
mkdirSync(outDir, { recursive: true })
const fail = (why) => { console.error(`FAIL: ${why}`); process.exit(1) }
const shot = async (page, name) => {
  const path = join(outDir, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  console.log(`screenshot ${path}`)
}
const login = async (page, name, password) => {
  await page.goto(`${base}/login`)
  await page.fill('input[name="name"]', name)
  await page.fill('input[name="password"]', password)
  await page.click('form[action="/login"] button[type="submit"]')
  await page.waitForURL(/\/account$/)
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu']
})
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

  // Log out: back to the login form, and /account sends there.
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

  if (errors.length) fail(`script errors: ${errors.join('; ')}`)
  console.log('ok')
} finally {
  await browser.close()
}
