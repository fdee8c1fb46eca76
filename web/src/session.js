// Tokens: the access token lives in memory only; the refresh token is an HttpOnly cookie
// (`wp_refresh`, Path=/v1/auth/refresh) that the server sets when we ask for the cookie
// transport. A timer refreshes shortly before the access token expires; a reload restores
// the session through the same cookie.
import { reactive } from 'vue'

export const COOKIE_TRANSPORT = { 'X-Refresh-Token-Transport': 'cookie' }

export const session = reactive({
  token: null,
  expiresAt: 0,
  user: null, // GET /v1/auth/me
  permissions: [], // GET /v1/me/permissions: [{resource, pattern, method}] the roles allow
  scopes: [], // … and the scopes they hold (e.g. orders-all)
  ready: false, // the initial restore finished
  notice: '', // shown on the sign-in page (e.g. "your session has ended")
  refreshes: 0, // how many silent refreshes succeeded (shown on the account page)
})

let timer = null
let inflight = null
// Only if a server still answers with refresh_token in the body (no cookie support):
// kept in memory for this tab, never in storage.
let memoryRefresh = null
let onSignedOut = () => {}

// After "Sign in with WeChat" the callback sends the browser to return_to#wechat_code=…:
// take the one-time code out of the URL at once (before the router reads the location).
const wechatCode = (() => {
  const m = location.hash.match(/wechat_code=([^&]+)/)
  if (!m) return null
  history.replaceState(history.state, '', location.pathname + location.search)
  return decodeURIComponent(m[1])
})()

export const setSignedOutHandler = (fn) => { onSignedOut = fn }
export const roles = () => (session.user && session.user.roles) || []
export const hasRole = (...r) => roles().some((x) => r.includes(x))
// What the caller may do, as the gateway that decides it says: a custom role's holder is
// shown what the role allows, whatever it is called.
export const may = (method, pattern) => session.permissions.some((p) => p.method === method && p.pattern === pattern)
export const holdsScope = (name) => session.scopes.includes(name)
export const adminAreas = () => ({
  users: may('GET', '/v1/users'),
  roles: may('GET', '/v1/roles'),
  trips: may('POST', '/v1/trips'),
  orders: holdsScope('orders-all'),
})
export const isAdmin = () => Object.values(adminAreas()).some(Boolean)

function schedule(expiresIn) {
  clearTimeout(timer)
  // refresh at ~80% of the lifetime, at least 5 s and at most 60 s before expiry
  const lead = Math.min(60, Math.max(5, expiresIn * 0.2))
  const ms = Math.max(1, expiresIn - lead) * 1000
  timer = setTimeout(() => { refresh() }, ms)
}

// A hint (not a secret) that this browser holds a refresh cookie, so anonymous page loads
// do not spend a refresh attempt (refresh is rate limited per address).
const HINT = 'waypoint.signedIn'
const hint = (on) => { try { on ? localStorage.setItem(HINT, '1') : localStorage.removeItem(HINT) } catch { /* private mode */ } }
const hinted = () => { try { return localStorage.getItem(HINT) === '1' } catch { return true } }

export function setTokens(body) {
  hint(true)
  session.token = body.access_token
  session.expiresAt = Date.now() + body.expires_in * 1000
  if (body.refresh_token) memoryRefresh = body.refresh_token
  schedule(body.expires_in)
}

function clear() {
  clearTimeout(timer)
  session.token = null
  session.expiresAt = 0
  session.user = null
  session.permissions = []
  session.scopes = []
  memoryRefresh = null
  hint(false)
}

async function post(path, body, extra = {}) {
  return fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...COOKIE_TRANSPORT, ...extra },
    body: JSON.stringify(body),
  })
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms))

async function doRefresh() {
  let res = null
  // A 502/503/504 or a network error is retried twice: e.g. a proxy that lost an idle
  // upstream connection answers 502 without the request reaching the auth service.
  for (const wait of [0, 300, 1000]) {
    if (wait) await pause(wait)
    try {
      res = await post('/v1/auth/refresh', memoryRefresh ? { refresh_token: memoryRefresh } : {})
      // Throttled for a moment (many tabs signing in from one address): wait and try again.
      const after = Number(res.headers.get('Retry-After'))
      if (res.status === 429 && after > 0 && after <= 5) { await pause(after * 1000); continue }
      if (![502, 503, 504].includes(res.status)) break
    } catch {
      res = null
    }
  }
  if (!res) {
    // offline: try again in a little while, keep the session
    if (session.token) schedule(15)
    return false
  }
  if (!res.ok) {
    if (res.status >= 500 || res.status === 429) { if (session.token) schedule(15); return false }
    clear()
    return false
  }
  setTokens(await res.json())
  session.refreshes++
  return true
}

/** One refresh at a time — across tabs too (the refresh token rotates, a reuse ends the session). */
export function refresh() {
  if (!inflight) {
    const run = () => doRefresh()
    inflight = (navigator.locks ? navigator.locks.request('waypoint-refresh', run) : run())
      .finally(() => { inflight = null })
  }
  return inflight
}

export async function loadMe() {
  const res = await fetch('/v1/auth/me', { headers: { Authorization: `Bearer ${session.token}`, Accept: 'application/json' } })
  if (!res.ok) throw new Error('me')
  const user = await res.json()
  const mine = await fetch('/v1/me/permissions', { headers: { Authorization: `Bearer ${session.token}`, Accept: 'application/json' } })
  if (!mine.ok) throw new Error('permissions')
  const { permissions, scopes } = await mine.json()
  session.permissions = permissions
  session.scopes = scopes
  session.user = user
  return session.user
}

/** Sign in with a token response (login, WeChat exchange). */
export async function signedIn(body) {
  setTokens(body)
  session.notice = ''
  await loadMe()
}

/** Called on page load: a WeChat one-time code in the fragment, or the refresh cookie. */
export async function restore() {
  try {
    if (wechatCode) {
      const res = await post('/v1/auth/oauth/wechat/exchange', { code: wechatCode })
      if (res.ok) { await signedIn(await res.json()); return }
      const data = await res.json().catch(() => null)
      session.notice = (data && data.error && data.error.message) || 'Signing in with WeChat failed. Please try again.'
      return
    }
    if (hinted() && (await refresh())) await loadMe()
  } catch {
    clear()
  } finally {
    session.ready = true
  }
}

/** The API said 401 and a refresh did not help. */
export function signedOut(message) {
  clear()
  if (message) session.notice = message
  onSignedOut()
}

export async function logout(everywhere = false) {
  try {
    await fetch(everywhere ? '/v1/auth/logout-all' : '/v1/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { Authorization: `Bearer ${session.token}`, ...COOKIE_TRANSPORT },
    })
  } finally {
    clear()
  }
}
