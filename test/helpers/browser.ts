// Headless Chromium (Debian's `chromium`) driven by playwright-core, for the live map's tests.
// The browser only loads pages from 127.0.0.1 (the UI under test). Screenshots go to
// test-results/ui/<run>/ (git-ignored); the test prints where.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './root.js'
import type { Test } from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

export interface BrowserSession {
  browser: Browser
  page: Page
  /** Where screenshots go. */
  shots: string
  shot(name: string): Promise<string>
}

export async function withBrowser(t: Test, run: string): Promise<BrowserSession> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // root in a container: no user-namespace sandbox; /dev/shm may be small
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } })
  // nothing but the UI under test: a request anywhere else fails the page's load, visibly
  await page.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (r) => r.abort())
  const shots = join(ROOT, 'test-results', 'ui', run)
  mkdirSync(shots, { recursive: true })
  t.comment(`screenshots: ${shots}`)
  return {
    browser,
    page,
    shots,
    async shot(name) {
      const p = join(shots, `${name}.png`)
      await page.screenshot({ path: p, fullPage: true })
      return p
    },
  }
}
