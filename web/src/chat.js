// The chat socket client: a ticket per connection (POST /v1/chat/ws-ticket, single use),
// reconnect with exponential backoff and full jitter, `resume` per conversation on every
// (re)connect so nothing is missed, and messages kept by id so nothing shows twice.
// Pings are answered by the browser itself.
import { reactive } from 'vue'
import { api } from './api.js'
import { session, signedOut } from './session.js'

const BASE_MS = 500
const MAX_MS = 30000
const STABLE_MS = 5000

export function backoff(attempt, random = Math.random) {
  const cap = Math.min(MAX_MS, BASE_MS * 2 ** attempt)
  return Math.round(cap / 2 + random() * (cap / 2)) // "equal jitter": never 0, never above the cap
}

export function createChat() {
  const state = reactive({
    status: 'offline', // connecting | online | reconnecting | offline
    retryIn: 0, // seconds until the next attempt while reconnecting
    convs: {}, // id → { messages: [], lastId, pending: [] }
    presence: {}, // user id → online
    error: '',
  })
  const listeners = new Set()
  let ws = null
  let attempt = 0
  let stopped = true
  let retryTimer = null
  let countdown = null
  let seq = 0

  const conv = (id) => (state.convs[id] ||= { messages: [], lastId: 0, outbox: [] })
  const emit = (frame) => listeners.forEach((fn) => fn(frame))

  /** Adds messages in id order, skipping ids already there. */
  function merge(id, list) {
    const c = conv(id)
    for (const m of list) {
      if (c.messages.some((x) => x.id === m.id)) continue
      // our own message shown as "sending": replace it
      if (m.client_msg_id) c.outbox = c.outbox.filter((p) => p.client_msg_id !== m.client_msg_id)
      let i = c.messages.length
      while (i > 0 && c.messages[i - 1].id > m.id) i--
      c.messages.splice(i, 0, m)
      if (m.id > c.lastId) c.lastId = m.id
    }
  }

  function onFrame(f) {
    switch (f.type) {
      case 'message':
        merge(f.conversation_id, [f])
        break
      case 'ack': {
        const c = conv(f.conversation_id)
        const p = c.outbox.find((x) => x.client_msg_id === f.client_msg_id)
        if (p) merge(f.conversation_id, [{ ...p, id: f.id, created_at: f.created_at, conversation_id: f.conversation_id }])
        break
      }
      case 'presence':
        state.presence[f.user_id] = f.online
        break
      case 'error':
        if (f.client_msg_id) {
          for (const c of Object.values(state.convs)) {
            const p = c.outbox.find((x) => x.client_msg_id === f.client_msg_id)
            if (p) { p.failed = f.message || f.code; p.sent = false }
          }
        } else state.error = f.message || f.code
        break
    }
    emit(f)
  }

  function raw(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true }
    return false
  }

  function flush(id) {
    for (const p of conv(id).outbox) if (!p.sent && !p.failed && raw({ type: 'send', conversation_id: Number(id), body: p.body, client_msg_id: p.client_msg_id })) p.sent = true
  }

  async function open() {
    clearTimers()
    if (stopped) return
    if (!navigator.onLine) { state.status = 'offline'; return }
    state.status = attempt ? 'reconnecting' : 'connecting'
    state.retryIn = 0
    let ticket
    try {
      ({ ticket } = await api('/v1/chat/ws-ticket', { method: 'POST', body: {} }))
    } catch (e) {
      if (e.status === 401 || !session.token) { stop(); return }
      return retry()
    }
    if (stopped) return
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const sock = new WebSocket(`${proto}//${location.host}/v1/chat/ws?ticket=${encodeURIComponent(ticket)}`)
    ws = sock
    let openedAt = 0
    sock.onopen = () => {
      if (ws !== sock) return
      openedAt = Date.now()
      state.status = 'online'
      state.error = ''
      // Everything after what we have, for every conversation we show; then anything unsent.
      for (const [id, c] of Object.entries(state.convs)) {
        if (c.loaded) raw({ type: 'resume', conversation_id: Number(id), after: c.lastId })
        for (const p of c.outbox) p.sent = false
        flush(id)
      }
      emit({ type: 'open' })
    }
    sock.onmessage = (ev) => {
      if (ws !== sock) return
      let f
      try { f = JSON.parse(ev.data) } catch { return }
      onFrame(f)
    }
    sock.onclose = (ev) => {
      if (ws !== sock) return
      ws = null
      // back off from the start only after a connection that lasted (a server that accepts
      // and drops at once must not make us reconnect in a tight loop)
      if (openedAt && Date.now() - openedAt > STABLE_MS) attempt = 0
      if (ev.code === 4401) { stop(); signedOut('Your session has ended. Please sign in again.'); return }
      retry()
    }
  }

  function retry() {
    if (stopped) return
    if (!navigator.onLine) { state.status = 'offline'; return }
    const ms = backoff(attempt++)
    state.status = 'reconnecting'
    const at = Date.now() + ms
    state.retryIn = Math.ceil(ms / 1000)
    countdown = setInterval(() => { state.retryIn = Math.max(0, Math.ceil((at - Date.now()) / 1000)) }, 250)
    retryTimer = setTimeout(open, ms)
  }

  function clearTimers() {
    clearTimeout(retryTimer)
    clearInterval(countdown)
    retryTimer = countdown = null
  }

  const online = () => { if (!stopped && !ws) { attempt = 0; open() } }
  const offline = () => { if (!stopped) { state.status = 'offline'; clearTimers(); if (ws) ws.close() } }

  function start() {
    if (!stopped) return
    stopped = false
    attempt = 0
    window.addEventListener('online', online)
    window.addEventListener('offline', offline)
    open()
  }

  function stop() {
    stopped = true
    clearTimers()
    window.removeEventListener('online', online)
    window.removeEventListener('offline', offline)
    const s = ws
    ws = null
    if (s) s.close(1000)
    state.status = 'offline'
  }

  /** Loads the newest page over REST, then keeps the conversation live (resume on reconnect). */
  async function load(id) {
    const c = conv(id)
    const page = await api(`/v1/chat/conversations/${id}/messages`, { query: { limit: 100 } })
    merge(id, page.results)
    if (!c.loaded) conv(id).hasEarlier = !!page.previous // (through the reactive proxy)
    if (!c.loaded) {
      c.loaded = true
      // anything that arrived between the page and now
      raw({ type: 'resume', conversation_id: Number(id), after: c.lastId })
    }
    return c
  }

  /** The page of messages before the oldest one shown. */
  async function loadEarlier(id) {
    const c = conv(id)
    if (!c.messages.length) return c
    const page = await api(`/v1/chat/conversations/${id}/messages`, { query: { before: c.messages[0].id, limit: 50 } })
    merge(id, page.results)
    conv(id).hasEarlier = !!page.previous
    return c
  }

  function send(id, body) {
    const p = { client_msg_id: `w-${Date.now().toString(36)}-${(seq++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`, body, sender_id: session.user && session.user.id, sent: false }
    conv(id).outbox.push(p)
    flush(id)
    return p
  }

  function read(id, lastId) {
    raw({ type: 'read', conversation_id: Number(id), ...(lastId ? { last_read_id: lastId } : {}) })
  }

  // for tests and debugging: drop the socket as a network failure would
  function drop() { if (ws) ws.close(4000, 'dropped') }

  return { state, start, stop, load, loadEarlier, send, read, drop, on: (fn) => (listeners.add(fn), () => listeners.delete(fn)) }
}
