import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, newPage, newUser, signIn, shot, unique, text, until, PHONE, DESKTOP } from './helpers.js'

let browser
before(async () => { browser = await launch() })
after(async () => { await browser?.close() })

test('a new traveller registers, sees field errors in plain words, and signs in', async () => {
  const { context, page } = await newPage(browser, PHONE)
  await page.goto('/register')
  // invalid values: the API's 422 names each field, shown next to it
  await page.locator('input[name=account]').fill('x')
  await page.locator('input[name=email]').fill('not-an-email')
  await page.locator('input[name=password]').fill('short')
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.locator('[data-field-error=account]').waitFor()
  assert.match(await text(page.locator('[data-field-error=email]')), /e-mail/)
  assert.match(await text(page.locator('[data-field-error=password]')), /12 characters/)
  await shot(page, 'register-errors-phone')

  const account = unique('reg')
  const password = 'a long enough e2e password'
  await page.locator('input[name=account]').fill(account)
  await page.locator('input[name=name]').fill('Rita Register')
  await page.locator('input[name=email]').fill(`${account}@example.com`)
  await page.locator('input[name=password]').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByText('Your account is ready').waitFor()
  assert.equal(await page.locator('input[name=account]').inputValue(), account)
  await shot(page, 'signin-phone')

  // a wrong password is refused in plain words
  await page.locator('input[name=password]').fill('not the password at all')
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.locator('[data-test=error]').waitFor()

  await page.locator('input[name=password]').fill(password)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  // phone width: the navigation is behind the menu button
  await page.getByRole('heading', { name: 'Trips' }).waitFor()
  await page.getByRole('button', { name: /Menu/ }).click()
  assert.equal(await text(page.locator('[data-test=whoami]')), 'Rita Register')
  await shot(page, 'nav-phone')
  await context.close()
})

test('a signed-out visitor sent to a private page signs in and lands where they meant to go', async () => {
  const user = await newUser('next')
  const { context, page } = await newPage(browser, DESKTOP)
  await page.goto('/orders')
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  assert.match(page.url(), /\/signin\?next=(%2F|\/)orders/)
  await shot(page, 'signin-desktop')
  await page.locator('input[name=account]').fill(user.account)
  await page.locator('input[name=password]').fill(user.password)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.getByRole('heading', { name: 'My orders' }).waitFor()
  // sign out: back on sign-in, and a reload does not bring the session back (cookie cleared)
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  assert.equal((await context.cookies()).filter((c) => c.name === 'wp_refresh' && c.value).length, 0)
  await page.goto('/orders')
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  await context.close()
})

test('a reload keeps the session through the refresh cookie, and the silent refresh renews the access token before it expires', async () => {
  const user = await newUser('keep')
  const { context, page } = await newPage(browser, DESKTOP)
  await page.clock.install() // runs at normal speed until we fast-forward it
  await signIn(page, user)
  // the refresh token is an HttpOnly cookie scoped to the refresh path; nothing in storage
  const cookies = await context.cookies()
  const c = cookies.find((x) => x.name === 'wp_refresh')
  assert.ok(c, 'wp_refresh cookie set')
  assert.equal(c.httpOnly, true)
  assert.equal(c.path, '/v1/auth/refresh')
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))
  assert.doesNotMatch(stored, /eyJ/, 'no token in web storage')

  await page.goto('/account')
  await page.locator('[data-test=account]').waitFor()
  const refreshed = page.waitForResponse((r) => r.url().endsWith('/v1/auth/refresh') && r.status() === 200)
  await page.reload()
  await refreshed
  assert.equal(await text(page.locator('[data-test=account]')), user.account)

  // Fast-forward the page's clock to just before the access token's expiry: the refresh
  // timer fires and a new token arrives without the user doing anything.
  const silent = page.waitForResponse((r) => r.url().endsWith('/v1/auth/refresh') && r.status() === 200)
  const expiresIn = await page.evaluate(() => window.__waypoint.expiresIn())
  await page.clock.fastForward(Math.ceil(expiresIn * 1000))
  await silent
  await until(page, () => window.__waypoint.refreshes() >= 1)
  // and the session still works
  await page.getByRole('link', { name: 'Orders' }).click()
  await page.getByRole('heading', { name: 'My orders' }).waitFor()
  await context.close()
})

test('a visitor signs in with WeChat on the QR page and comes back signed in to the page they wanted', async () => {
  const { context, page } = await newPage(browser, PHONE)
  await page.goto('/orders')
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  await page.locator('[data-test=wechat]').click()
  // the (fake) WeChat QR page: who scans, then allow
  const who = unique('wx')
  await page.locator('input[name=user]').fill(who)
  await page.locator('input[name=nickname]').fill('Wei Chen')
  await page.getByRole('button', { name: 'Scan and allow' }).click()
  // back on Waypoint: the one-time code in the fragment is exchanged, and removed from the URL
  await page.getByRole('heading', { name: 'My orders' }).waitFor()
  await page.locator('[data-test=whoami]').waitFor({ state: 'attached' })
  assert.equal(await page.locator('[data-test=whoami]').textContent(), 'Wei Chen')
  assert.doesNotMatch(page.url(), /wechat_code/)
  // a WeChat session is an ordinary one: the refresh cookie restores it after a reload
  await page.reload()
  await page.getByText('No orders yet').waitFor()
  assert.equal(await page.locator('[data-test=whoami]').textContent(), 'Wei Chen')
  await context.close()
})

test('a traveller links WeChat on their account page, signs in with it, and unlinks it', async () => {
  const user = await newUser('link')
  const { context, page } = await newPage(browser, DESKTOP)
  await signIn(page, user)
  await page.goto('/account')
  assert.match(await text(page.locator('[data-test=wechat-state]')), /^not linked/)
  await page.getByRole('button', { name: 'Link WeChat' }).click()
  // the (fake) WeChat QR page, then back on the account page
  const who = unique('wx')
  await page.locator('input[name=user]').fill(who)
  await page.locator('input[name=nickname]').fill('Linked Lily')
  await page.getByRole('button', { name: 'Scan and allow' }).click()
  await page.locator('[data-test=wechat-linked]').waitFor()
  assert.match(await text(page.locator('[data-test=wechat-state]')), /^linked/)
  assert.doesNotMatch(page.url(), /wechat_linked/)

  // signing in with that WeChat user now reaches this account
  await page.getByRole('button', { name: 'Sign out', exact: true }).click()
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  await page.goto('/signin?next=/account')
  await page.locator('[data-test=wechat]').click()
  await page.locator('input[name=user]').fill(who)
  await page.locator('input[name=nickname]').fill('Linked Lily')
  await page.getByRole('button', { name: 'Scan and allow' }).click()
  await page.locator('[data-test=account]').waitFor()
  assert.equal(await text(page.locator('[data-test=account]')), user.account)

  await page.getByRole('button', { name: 'Unlink WeChat' }).click()
  await page.getByRole('button', { name: 'Link WeChat' }).waitFor()
  assert.match(await text(page.locator('[data-test=wechat-state]')), /^not linked/)
  await context.close()
})
