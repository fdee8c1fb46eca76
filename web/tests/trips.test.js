import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, newPage, newUser, signIn, shot, text, until, PHONE, DESKTOP } from './helpers.js'

let browser
before(async () => { browser = await launch() })
after(async () => { await browser?.close() })

const cardTitles = (page) => page.locator('article.trip h3').allInnerTexts()
const prices = async (page) => (await page.locator('article.trip .price').allInnerTexts()).map((p) => Number(p.replace(/[^0-9.]/g, '')))

test('a traveller filters, sorts and pages through trips, with back and forward, then rates one and sees their rating', async () => {
  const user = await newUser('browse')
  const { context, page } = await newPage(browser, DESKTOP)
  await signIn(page, user, '/signin?next=/trips')
  await page.getByRole('heading', { name: 'Trips' }).waitFor()
  await page.locator('article.trip').first().waitFor()
  await shot(page, 'trips-desktop')

  // filter by destination: only Lijiang trips, reflected in the URL
  await page.locator('input[name=destination]').fill('Lijiang')
  await page.getByRole('button', { name: 'Apply' }).click()
  await page.waitForURL(/destination=Lijiang/)
  await until(page, () => [...document.querySelectorAll('article.trip [data-test=where]')].every((e) => e.textContent.startsWith('Lijiang')))
  const lijiang = await cardTitles(page)
  assert.ok(lijiang.length >= 2, 'several Lijiang trips')

  // sort by price, high to low
  await page.locator('select[name=sort]').selectOption('price:desc')
  await page.waitForURL(/sort=price%3Adesc|sort=price:desc/)
  await until(page, () => {
    const p = [...document.querySelectorAll('article.trip .price')].map((e) => Number(e.textContent.replace(/[^0-9.]/g, '')))
    return p.length > 1 && p.every((v, i) => i === 0 || p[i - 1] >= v)
  })
  const desc = await prices(page)

  // a price range (in yuan): everything within it
  await page.locator('input[name=max]').fill('3000')
  await page.getByRole('button', { name: 'Apply' }).click()
  await page.waitForURL(/max=3000/)
  await until(page, () => [...document.querySelectorAll('article.trip .price')].every((e) => Number(e.textContent.replace(/[^0-9.]/g, '')) <= 3000))

  // back: the previous filter (no max) comes back from the URL
  await page.goBack()
  await page.waitForURL((u) => !u.search.includes('max='))
  await until(page, (n) => document.querySelectorAll('article.trip').length === n, desc.length)
  assert.deepEqual(await prices(page), desc)

  // paging: all trips, six per page
  await page.getByRole('button', { name: 'Clear' }).click()
  await page.waitForURL((u) => u.search === '')
  await page.locator('[data-test=page-info]').waitFor()
  const first = await cardTitles(page)
  await page.getByRole('button', { name: 'Next ›' }).click()
  await page.waitForURL(/page=2/)
  await until(page, () => document.querySelector('[data-test=page-info]').textContent.startsWith('Page 2'))
  const second = await cardTitles(page)
  assert.equal(second.filter((t) => first.includes(t)).length, 0, 'page 2 shows other trips')
  await page.goBack()
  await until(page, () => document.querySelector('[data-test=page-info]').textContent.startsWith('Page 1'))
  await page.goForward()
  await until(page, () => document.querySelector('[data-test=page-info]').textContent.startsWith('Page 2'))

  // open a trip and rate it
  await page.locator('article.trip h3 a').first().click()
  await page.locator('[data-test=trip-detail]').waitFor()
  await page.locator('[data-test=my-rating]').getByText('Not rated yet').waitFor()
  await page.locator('button[data-star="4"]').click()
  await page.locator('[data-test=my-rating]').getByText('You rated this trip 4 stars.').waitFor()
  assert.equal(await page.locator('.stars.editable button.on').count(), 4)
  // "similar trips" come with their reasons
  await page.locator('[data-test=similar] [data-test=reason]').first().waitFor()
  await shot(page, 'trip-detail-desktop')

  // after a reload the page shows the traveller's own rating
  await page.reload()
  await page.locator('[data-test=my-rating]').getByText('You rated this trip 4 stars.').waitFor()
  await context.close()
})

test('after rating a few trips, a traveller gets recommendations with the reasons for them', async () => {
  const user = await newUser('reco')
  const { context, page } = await newPage(browser, PHONE)
  await signIn(page, user)
  // rate three trips in the UI (the Lijiang ones, which other travellers rated too)
  await page.goto('/trips?destination=Lijiang&sort=price%3Aasc')
  await page.locator('article.trip').first().waitFor()
  await shot(page, 'trips-phone')
  const hrefs = (await page.locator('article.trip h3 a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).slice(0, 3)
  for (const [i, href] of hrefs.entries()) {
    await page.goto(href)
    await page.locator('[data-test=my-rating]').getByText('Not rated yet').waitFor()
    await page.locator(`button[data-star="${5 - i}"]`).click()
    await page.locator('[data-test=my-rating]').getByText(`You rated this trip ${5 - i} star`).waitFor()
  }
  await shot(page, 'trip-detail-phone')

  await page.goto('/for-you')
  await page.locator('[data-test=recommendations]').waitFor()
  // the model rebuilds in the background; the page's Refresh asks again until reasons name our ratings
  const deadline = Date.now() + 30_000
  for (;;) {
    assert.ok(Date.now() < deadline, 'no recommendation named our ratings within 30 s')
    const reasons = await page.locator('[data-test=recommendations] [data-test=reason]').allInnerTexts()
    if (reasons.some((r) => /because you rated/.test(r))) break
    await page.getByRole('button', { name: 'Refresh' }).click()
    await page.getByRole('button', { name: 'Refresh' }).waitFor()
  }
  const cards = page.locator('[data-test=recommendations] article.trip')
  assert.ok((await cards.count()) >= 1)
  const titles = await cards.locator('h3').allInnerTexts()
  const rated = []
  for (const href of hrefs) rated.push(href)
  // trips already rated are never recommended
  const ids = await cards.evaluateAll((els) => els.map((e) => `/trips/${e.dataset.tripId}`))
  assert.equal(ids.filter((id) => rated.includes(id)).length, 0, `rated trips recommended: ${titles}`)
  await shot(page, 'recommendations-phone')
  await page.setViewportSize({ width: 1280, height: 860 })
  await shot(page, 'recommendations-desktop')

  // and "trips you may like" on a trip page
  await page.goto(hrefs[0])
  await page.locator('[data-test=you-may-like] [data-test=reason]').first().waitFor()
  assert.match(await text(page.locator('[data-test=you-may-like]')), /because you rated|popular|liked/i)
  await context.close()
})
