import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, newPage, newUser, signIn, api, login, shot, text, unique, ADMIN, DESKTOP } from './helpers.js'

let browser
before(async () => { browser = await launch() })
after(async () => { await browser?.close() })

test('an admin creates, edits, takes off sale and deletes a trip, with field errors shown next to the fields', async () => {
  const a = await newPage(browser, DESKTOP)
  a.page.on('dialog', (d) => d.accept())
  await signIn(a.page, { account: ADMIN.account, password: ADMIN.password })
  await a.page.goto('/admin/trips')
  await a.page.locator('[data-test=admin-trips] li').first().waitFor()
  await a.page.getByRole('button', { name: 'New trip' }).click()
  const form = a.page.locator('[data-test=trip-form]')
  await form.locator('input[name=price]').fill('-1')
  await form.getByRole('button', { name: 'Save' }).click()
  await form.locator('[data-field-error=title]').waitFor()
  await form.locator('[data-field-error=destination]').waitFor()
  assert.match(await text(form.locator('[data-field-error=price]')), /between/)

  const title = unique('Night market walk ')
  await form.locator('input[name=title]').fill(title)
  await form.locator('input[name=destination]').fill('Kunming')
  await form.locator('input[name=price]').fill('199')
  await form.locator('input[name=duration_days]').fill('1')
  await form.locator('input[name=tags]').fill('food, night')
  await form.getByRole('button', { name: 'Save' }).click()
  await form.waitFor({ state: 'detached' })
  const row = a.page.locator('[data-test=admin-trips] li').filter({ hasText: title })
  await row.getByText('¥199.00').waitFor()

  await row.getByRole('button', { name: 'Edit' }).click()
  await form.locator('input[name=price]').fill('249.5')
  await form.getByRole('button', { name: 'Save' }).click()
  await row.getByText('¥249.50').waitFor()

  await row.getByRole('button', { name: 'Take off sale' }).click()
  await row.getByText('off sale').waitFor()
  await row.getByRole('button', { name: 'Delete' }).click()
  await row.waitFor({ state: 'detached' })
  await a.context.close()
})

test('an order admin view lists every order and refunds a paid one', async () => {
  const buyer = await newUser('refund')
  const token = await login(buyer.account, buyer.password)
  const order = await api('/v1/orders', { method: 'POST', body: { trip_id: 5, quantity: 1 }, token })
  // the buyer pays on the Alipay page
  const t = await newPage(browser, DESKTOP)
  await signIn(t.page, buyer, `/signin?next=/orders/${order.id}`)
  await t.page.getByRole('button', { name: 'Pay with Alipay' }).click()
  await t.page.getByRole('button', { name: /^Pay ¥/ }).click()
  await t.page.getByRole('link', { name: 'See your order on Waypoint' }).click()
  await t.page.locator('[data-test=paid]').waitFor()

  const a = await newPage(browser, DESKTOP)
  await signIn(a.page, { account: ADMIN.account, password: ADMIN.password })
  await a.page.goto(`/admin/orders?user_id=${buyer.id}`)
  const row = a.page.locator(`[data-test=admin-orders] li[data-order-id="${order.id}"]`)
  await row.getByText('paid', { exact: true }).waitFor()
  await row.getByRole('button', { name: 'Refund' }).click()
  await row.locator('input').first().fill('') // everything not yet refunded
  await row.locator('form').getByRole('button', { name: 'Refund' }).click()
  await row.getByText('refunded', { exact: true }).waitFor()
  await shot(a.page, 'admin-orders-desktop')
  // the traveller sees the refund on their order
  await t.page.reload()
  await t.page.locator('[data-test=order] [data-test=status]').getByText('refunded').waitFor()
  assert.match(await text(t.page.locator('[data-test=order]')), /Refunds/)
  await a.context.close()
  await t.context.close()
})
