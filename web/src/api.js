// The fetch wrapper: JSON in and out, the API's error shape turned into an ApiError,
// the access token in the Authorization header, and one refresh on a 401.
import { session, refresh, signedOut } from './session.js'

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message)
    this.status = status
    this.code = code
    this.details = details || {}
    // 422: details.fields.<name>; 409 account_taken/email_taken: details.field
    this.fields = {}
    const f = this.details.fields
    if (f && typeof f === 'object') {
      for (const [k, v] of Object.entries(f)) this.fields[k] = Array.isArray(v) ? v.join(' ') : String(v)
    }
    if (typeof this.details.field === 'string') this.fields[this.details.field] = message
  }
}

function plain(status) {
  if (status === 401) return 'Please sign in again.'
  if (status === 403) return 'You are not allowed to do that.'
  if (status === 404) return 'Not found.'
  if (status === 429) return 'Too many requests — please wait a moment and try again.'
  if (status >= 500) return 'Waypoint is having trouble right now. Please try again shortly.'
  return `Request failed (${status}).`
}

export function qs(query) {
  if (!query) return ''
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') p.set(k, v)
  const s = p.toString()
  return s ? `?${s}` : ''
}

async function send(path, { method, body, headers, auth }) {
  const h = { Accept: 'application/json', ...headers }
  if (body !== undefined) h['Content-Type'] = 'application/json'
  if (auth && session.token) h.Authorization = `Bearer ${session.token}`
  try {
    return await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    })
  } catch {
    throw new ApiError(0, 'network_error', 'Cannot reach Waypoint. Check your connection and try again.')
  }
}

export async function toError(res) {
  let data = null
  try { data = await res.json() } catch { /* not JSON */ }
  const e = data && data.error
  let message = (e && e.message) || plain(res.status)
  if (res.status === 429) {
    const after = res.headers.get('Retry-After')
    if (after) message += ` (try again in ${after} s)`
  }
  return new ApiError(res.status, (e && e.code) || `http_${res.status}`, message, e && e.details)
}

/** api('/v1/trips', {query, method, body}) → parsed JSON (null for 204). */
export async function api(path, { method = 'GET', body, query, headers, auth = true, retry = true } = {}) {
  const url = path + qs(query)
  let res = await send(url, { method, body, headers, auth })
  if (res.status === 401 && auth && retry) {
    const hadSession = !!session.token
    if (hadSession && (await refresh())) {
      res = await send(url, { method, body, headers, auth })
    }
    if (res.status === 401) {
      const err = await toError(res)
      if (hadSession || session.token) signedOut('Your session has ended. Please sign in again.')
      throw err
    }
  }
  if (!res.ok) throw await toError(res)
  if (res.status === 204) return null
  const text = await res.text()
  return text ? JSON.parse(text) : null
}

export const money = (cents, currency = 'CNY') =>
  new Intl.NumberFormat('en', { style: 'currency', currency, currencyDisplay: 'narrowSymbol' }).format((cents || 0) / 100)

export const when = (s) => (s ? new Date(s).toLocaleString() : '')
