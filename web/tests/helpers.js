// Shared by the end-to-end tests: the environment contract, a browser, API shortcuts for
// setting things up, and screenshots. Tests wait on what the page shows, never on sleeps.
import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'

const here = dirname(fileURLToPath(import.meta.url))
export const URL_ = (process.env.WAYPOINT_URL || 'http://127.0.0.1:8080').replace(/\/$/, '')
export const ADMIN = { account: process.env.WAYPOINT_ADMIN_ACCOUNT || 'admin', password: process.env.WAYPOINT_ADMIN_PASSWORD }
export const ARTIFACTS = process.env.WAYPOINT_ARTIFACTS || join(here, '..', 'test-results')
mkdirSync(ARTIFACTS, { recursive: true })
if (!ADMIN.password) throw new Error('set WAYPOINT_ADMIN_ACCOUNT and WAYPOINT_ADMIN_PASSWORD (a super_admin)')

export const PHONE = { width: 375, height: 740 }
export const DESKTOP = { width: 1280, height: 860 }
export const TIMEOUT = 20_000

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
}

/** A new browser context (its own cookies) and page at the given viewport. */
export async function newPage(browser, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, baseURL: URL_ })
  context.setDefaultTimeout(TIMEOUT)
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error('page error:', e.message))
  return { context, page }
}

export async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) })
}

export const unique = (prefix) => `${prefix}${Date.now().toString(36)}${randomBytes(2).toString('hex')}`

/** JSON over the public API (for setting up, never for asserting what a user sees). */
export async function api(path, { method = 'GET', body, token } = {}) {
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (token) headers.Authorization = `Bearer ${token}`
  const res = await fetch(URL_ + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  const data = text ? JSON.parse(text) : null
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return data
}

export async function login(account, password) {
  return (await api('/v1/auth/login', { method: 'POST', body: { account, password } })).access_token
}

let adminToken = null
export async function admin() {
  adminToken ||= await login(ADMIN.account, ADMIN.password)
  return adminToken
}

/** Registers a user through the API: {id, account, name, password}. */
export async function newUser(prefix = 'u', name = 'Test Traveller') {
  const account = unique(prefix)
  const password = `e2e ${randomBytes(9).toString('hex')} pass`
  const user = await api('/v1/auth/register', { method: 'POST', body: { account, name, email: `${account}@example.com`, password } })
  return { ...user, password }
}

export async function roleId(name) {
  const roles = await api('/v1/roles?limit=100', { token: await admin() })
  return roles.results.find((r) => r.name === name).id
}

export async function makeExpert(user) {
  await api(`/v1/users/${user.id}/roles`, { method: 'POST', body: { role_id: await roleId('expert') }, token: await admin() })
}

/** Signs in through the sign-in page and waits for the signed-in header. */
export async function signIn(page, user, path = '/signin') {
  await page.goto(path)
  await page.locator('input[name=account]').fill(user.account)
  await page.locator('input[name=password]').fill(user.password)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.locator('[data-test=whoami]').waitFor({ state: 'attached' })
}

/** Polls until fn() in the page is truthy (an expect-style wait). */
export async function until(page, fn, arg) {
  await page.waitForFunction(fn, arg, { timeout: TIMEOUT })
}

export async function text(locator) {
  return (await locator.innerText()).trim()
}
