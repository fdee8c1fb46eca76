import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, newPage, newUser, signIn, shot, text, PHONE, DESKTOP } from './helpers.js'

let browser
before(async () => { browser = await launch() })
after(async () => { await browser?.close() })

test('a traveller revokes one session, then signs out everywhere, and the other browser lands on sign-in at its next action', async () => {
  const user = await newUser('multi')
  const a = await newPage(browser, DESKTOP)
  const b = await newPage(browser, PHONE)
  const c = await newPage(browser, PHONE)
  await signIn(a.page, user)
  await signIn(b.page, user)
  await signIn(c.page, user)
  await b.page.goto('/trips')
  await c.page.goto('/trips')

  await a.page.goto('/account')
  await a.page.locator('[data-test=sessions] li').nth(2).waitFor()
  assert.equal(await a.page.locator('[data-test=sessions] li').count(), 3)
  assert.equal(await a.page.locator('[data-test=sessions] [data-test=current]').count(), 1)
  await shot(a.page, 'sessions-desktop')

  // revoke one of the others (C): C's next action ends on sign-in
  const other = a.page.locator('[data-test=sessions] li').filter({ hasNot: a.page.locator('[data-test=current]') }).first()
  await other.getByRole('button', { name: 'Revoke' }).click()
  await a.page.locator('[data-test=sessions] li').nth(2).waitFor({ state: 'detached' })
  // whichever of B and C was revoked, exactly one of them is now signed out
  const probe = async (p) => {
    await p.page.getByRole('button', { name: /Menu/ }).click()
    await p.page.getByRole('link', { name: 'Orders' }).click()
    // the orders list (still signed in) or the sign-in page (the API said 401)
    const signin = p.page.getByRole('heading', { name: 'Sign in' })
    await p.page.getByText('No orders yet').or(signin).waitFor()
    return (await signin.count()) ? 'Sign in' : 'My orders'
  }
  const results = [await probe(b), await probe(c)]
  assert.deepEqual(results.sort(), ['My orders', 'Sign in'])
  const [still, gone] = results[0] === 'My orders' ? [b, c] : [c, b]
  assert.match(await text(gone.page.locator('[data-test=notice]')), /session has ended/)

  // sign out everywhere from A: the other browser's next action lands on sign-in,
  // with the page it meant to open kept for after signing in
  await a.page.getByRole('button', { name: 'Sign out everywhere' }).click()
  await a.page.getByRole('heading', { name: 'Sign in' }).waitFor()
  await a.page.locator('[data-test=notice]').getByText('signed out on every device').waitFor()
  // (no reload: the other browser still holds its access token in memory)
  await still.page.getByRole('button', { name: /Menu/ }).click()
  await still.page.getByRole('link', { name: 'Chat' }).click()
  await still.page.getByRole('heading', { name: 'Sign in' }).waitFor()
  assert.match(await text(still.page.locator('[data-test=notice]')), /session has ended/)
  assert.match(still.page.url(), /next=(%2F|\/)chat/)
  await shot(still.page, 'signed-out-phone')
  // and a reload does not bring the session back (the refresh cookie was ended too)
  await still.page.goto('/orders')
  await still.page.getByRole('heading', { name: 'Sign in' }).waitFor()
  for (const p of [a, b, c]) await p.context.close()
})

test('a traveller changes their password: a wrong current one is named next to its field, the right one signs out their other devices', async () => {
  const user = await newUser('pw')
  const here = await newPage(browser, DESKTOP)
  const there = await newPage(browser, PHONE)
  await signIn(here.page, user)
  await signIn(there.page, user)

  await here.page.goto('/account')
  const form = here.page.locator('[data-test=password-form]')
  await form.locator('input[name=old_password]').fill('not my password at all')
  await form.locator('input[name=new_password]').fill('a brand new passphrase 42')
  await form.getByRole('button', { name: 'Change password' }).click()
  assert.match(await text(form.locator('[data-field-error=old_password]')), /not your current password/)

  await form.locator('input[name=old_password]').fill(user.password)
  await form.locator('input[name=new_password]').fill('short')
  await form.getByRole('button', { name: 'Change password' }).click()
  await form.locator('[data-field-error=new_password]').waitFor()
  assert.equal(await form.locator('[data-field-error=old_password]').count(), 0)

  await form.locator('input[name=new_password]').fill('a brand new passphrase 42')
  await form.getByRole('button', { name: 'Change password' }).click()
  await here.page.locator('[data-test=password-changed]').waitFor()
  assert.equal(await here.page.locator('[data-test=sessions] li').count(), 1, 'only this session is left')

  // the other device is signed out at its next action, and the new password works
  await there.page.goto('/orders')
  await there.page.getByRole('heading', { name: 'Sign in' }).waitFor()
  await signIn(there.page, { ...user, password: 'a brand new passphrase 42' })
  for (const p of [here, there]) await p.context.close()
})
