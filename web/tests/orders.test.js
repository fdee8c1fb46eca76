import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, newPage, newUser, signIn, shot, text, PHONE, DESKTOP } from './helpers.js'

let browser
before(async () => { browser = await launch() })
after(async () => { await browser?.close() })

test('a traveller orders a trip, pays on the Alipay page and sees the order become paid in their history', async () => {
  const user = await newUser('buyer')
  const { context, page } = await newPage(browser, DESKTOP)
  await signIn(page, user)
  await page.goto('/trips?sort=price%3Aasc')
  await page.locator('article.trip h3 a').first().click()
  await page.locator('[data-test=trip-detail]').waitFor()
  const title = await text(page.locator('[data-test=trip-detail] h1'))

  await page.locator('input[name=quantity]').fill('2')
  await page.getByRole('button', { name: 'Order', exact: true }).click()
  await page.locator('[data-test=order]').waitFor()
  assert.equal(await text(page.locator('[data-test=order] [data-test=status]')), 'pending')
  assert.match(await text(page.locator('[data-test=order]')), new RegExp(title))
  const orderUrl = page.url()
  await shot(page, 'order-pending-desktop')

  // the browser goes to the (fake) Alipay cashier, the traveller pays there and comes back
  await page.getByRole('button', { name: 'Pay with Alipay' }).click()
  await page.getByRole('button', { name: /^Pay ¥/ }).click()
  await page.getByRole('link', { name: 'See your order on Waypoint' }).click()

  // back on Waypoint: the order page (the refresh cookie restored the session), polling until paid
  await page.waitForURL(orderUrl)
  await page.locator('[data-test=paid]').waitFor()
  assert.equal(await text(page.locator('[data-test=order] [data-test=status]')), 'paid')
  await page.locator('[data-test=paid-at]').waitFor()
  await shot(page, 'order-paid-desktop')

  // the order history shows it as paid
  await page.getByRole('link', { name: '‹ My orders' }).click()
  const row = page.locator('[data-test=orders] li').first()
  await row.getByText('paid').waitFor()
  assert.match(await text(row), new RegExp(title))
  await shot(page, 'orders-desktop')
  await page.setViewportSize(PHONE)
  await shot(page, 'orders-phone')
  await context.close()
})
