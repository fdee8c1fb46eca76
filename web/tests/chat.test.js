import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { api, launch, login, newPage, newUser, makeExpert, signIn, shot, until, PHONE, DESKTOP } from './helpers.js'

let browser
before(async () => { browser = await launch() })
after(async () => { await browser?.close() })

const bodies = (page) => page.locator('[data-test=messages] li:not([data-pending]) .body').allInnerTexts()
const conn = (page) => page.locator('[data-test=connection]')
/** Waits until the conversation shows exactly these messages (stored ones), in this order. */
const shows = (page, list) => until(page, (want) => {
  const got = [...document.querySelectorAll('[data-test=messages] li:not([data-pending]) .body')].map((e) => e.textContent)
  return JSON.stringify(got) === JSON.stringify(want)
}, list)

test('a traveller and an expert chat live both ways, and a dropped connection recovers with the messages sent meanwhile delivered once, in order', async () => {
  const expert = await newUser('expert', `Expert ${Date.now().toString(36)}`)
  await makeExpert(expert)
  const traveller = await newUser('trav', 'Tina Traveller')

  const e = await newPage(browser, DESKTOP)
  await signIn(e.page, expert)
  await e.page.goto('/chat')
  await conn(e.page).getByText('Online').waitFor()

  // The traveller's socket goes through a route we can cut, as a network failure would:
  // (context.setOffline does not close an open WebSocket in this chromium; it only stalls it.)
  const t = await newPage(browser, PHONE)
  let live = null
  let blocked = false
  await t.page.routeWebSocket(/\/v1\/chat\/ws/, (ws) => {
    if (blocked) { ws.close({ code: 4500, reason: 'network down' }); return }
    const server = ws.connectToServer()
    live = { ws, server }
  })
  await signIn(t.page, traveller)
  await t.page.goto('/chat')
  await conn(t.page).getByText('Online').waitFor()

  // the traveller sees the expert online and opens a conversation
  const row = t.page.locator(`[data-test=experts] li[data-expert="${expert.account}"]`)
  await row.getByText('online').waitFor()
  await row.getByRole('button', { name: 'Chat' }).click()
  await t.page.waitForURL(/\/chat\/\d+$/)
  const input = t.page.locator('input[name=message]')
  await input.fill('Hello! Is Lugu Lake nice in March?')
  await t.page.getByRole('button', { name: 'Send' }).click()
  await shows(t.page, ['Hello! Is Lugu Lake nice in March?'])

  // the expert sees the conversation appear with one unread message, live
  const conv = e.page.locator('[data-test=conversations] li').filter({ hasText: 'Tina Traveller' })
  await conv.locator('[data-test=unread]').getByText('1').waitFor()
  await shot(e.page, 'chat-unread-desktop')
  await conv.locator('a').click()
  await shows(e.page, ['Hello! Is Lugu Lake nice in March?'])
  await until(e.page, () => !document.querySelector('[data-test=conversations] [data-test=unread]'))

  // and answers; the traveller gets it live
  await e.page.locator('input[name=message]').fill('Lovely — cold nights, bring a jacket.')
  await e.page.getByRole('button', { name: 'Send' }).click()
  await shows(t.page, ['Hello! Is Lugu Lake nice in March?', 'Lovely — cold nights, bring a jacket.'])
  await shot(t.page, 'chat-phone')

  // Cut the traveller's connection, and keep it down while the expert writes three messages
  blocked = true
  live.ws.close({ code: 4500, reason: 'network down' })
  await live.server.close()
  await conn(t.page).getByText(/Reconnecting/).waitFor()
  await shot(t.page, 'chat-reconnecting-phone')
  const meanwhile = ['One: take the morning boat.', 'Two: the Mosuo villages are worth a night.', 'Three: book the lakeside inn early.']
  for (const m of meanwhile) {
    await e.page.locator('input[name=message]').fill(m)
    await e.page.getByRole('button', { name: 'Send' }).click()
  }
  // the traveller also writes while offline: shown as "sending…", delivered on reconnect
  await input.fill('Thanks, noted!')
  await t.page.getByRole('button', { name: 'Send' }).click()
  await t.page.locator('[data-test=messages] li[data-pending]').getByText('Thanks, noted!').waitFor()
  await shows(e.page, ['Hello! Is Lugu Lake nice in March?', 'Lovely — cold nights, bring a jacket.', ...meanwhile])

  // the network comes back: the client reconnects (backoff) and resumes
  blocked = false
  await conn(t.page).getByText('Online').waitFor({ timeout: 40_000 })
  const all = ['Hello! Is Lugu Lake nice in March?', 'Lovely — cold nights, bring a jacket.', ...meanwhile, 'Thanks, noted!']
  await shows(t.page, all)
  await shows(e.page, all)
  await until(t.page, () => !document.querySelector('[data-test=messages] li[data-pending]'))
  // once each, in id order
  const ids = await t.page.locator('[data-test=messages] li[data-id]').evaluateAll((els) => els.map((x) => Number(x.dataset.id)))
  assert.deepEqual(ids, [1, 2, 3, 4, 5, 6])
  assert.deepEqual(await bodies(t.page), all)
  await shot(e.page, 'chat-desktop')
  await e.context.close()
  await t.context.close()
})

test('a long conversation opens on its newest messages and loads the earlier ones on demand', async () => {
  const expert = await newUser('expert', `Expert ${Date.now().toString(36)}`)
  await makeExpert(expert)
  const traveller = await newUser('trav', 'Long Talker')
  const token = await login(traveller.account, traveller.password)
  const conversation = await api('/v1/chat/conversations', { method: 'POST', body: { expert_id: expert.id }, token })
  for (let n = 1; n <= 120; n++) {
    await api(`/v1/chat/conversations/${conversation.id}/messages`, { method: 'POST', body: { body: `message ${n}` }, token })
  }

  const t = await newPage(browser, DESKTOP)
  await signIn(t.page, traveller)
  await t.page.goto(`/chat/${conversation.id}`)
  await t.page.locator('[data-test=messages]').getByText('message 120', { exact: true }).waitFor()
  let shown = await bodies(t.page)
  assert.equal(shown.length, 100)
  assert.equal(shown[0], 'message 21')

  await t.page.getByRole('button', { name: 'Load earlier messages' }).click()
  await t.page.locator('[data-test=messages]').getByText('message 1', { exact: true }).waitFor()
  shown = await bodies(t.page)
  assert.deepEqual(shown, Array.from({ length: 120 }, (_, i) => `message ${i + 1}`))
  assert.equal(await t.page.getByRole('button', { name: 'Load earlier messages' }).count(), 0, 'nothing earlier is left')
  await t.context.close()
})
