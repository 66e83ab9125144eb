// What the browser scripts share: their first two arguments, Debian's headless
// Chromium, failing, and full-page screenshots.
import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

// `node SCRIPT <http://127.0.0.1:PORT> <screenshot dir> ARGS..`: the base URL, the
// screenshot dir (made here) and the script's own arguments.
export const [base, outDir, ...args] = process.argv.slice(2)
mkdirSync(outDir, { recursive: true })

// Prints what failed and ends the script with exit code 1.
export const fail = (why) => { console.error(`FAIL: ${why}`); process.exit(1) }

// Saves a full-page screenshot as <screenshot dir>/<name>.png.
export const shot = async (page, name) => {
  const path = join(outDir, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  console.log(`screenshot ${path}`)
}

// Debian's Chromium ($CHROMIUM or /usr/bin/chromium), headless: no browser download.
export const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu']
})

// Logs `page` in on the site as `name`; it lands on /account.
export const login = async (page, name, password) => {
  await page.goto(`${base}/login`)
  await page.fill('input[name="name"]', name)
  await page.fill('input[name="password"]', password)
  await page.click('form[action="/login"] button[type="submit"]')
  await page.waitForURL(/\/account$/)
}
