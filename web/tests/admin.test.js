import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { admin, api, launch, newPage, newUser, signIn, shot, text, unique, until, ADMIN, PHONE, DESKTOP } from './helpers.js'

let browser
before(async () => { browser = await launch() })
after(async () => { await browser?.close() })

/** Reloads until the users page shows either the list or an error, and says which. */
async function usersPage(page) {
  await page.reload()
  const shown = page.locator('[data-test=users], [data-test=error]').first()
  await shown.waitFor()
  return (await shown.getAttribute('data-test')) === 'users' ? 'list' : await text(shown)
}

test('an admin grants a route and method to the traveller role, a traveller sees it take effect, and the admin revokes it', async () => {
  const traveller = await newUser('perm')
  const t = await newPage(browser, DESKTOP)
  await signIn(t.page, traveller)
  // no admin link for a traveller; the page itself is refused by the gateway, in plain words
  assert.equal(await t.page.getByRole('link', { name: 'Admin', exact: true }).count(), 0)
  await t.page.goto('/admin/users')
  await t.page.locator('[data-test=error]').getByText('Your roles do not allow GET on this route.').waitFor()

  const a = await newPage(browser, DESKTOP)
  await signIn(a.page, { account: ADMIN.account, password: ADMIN.password })
  await a.page.getByRole('link', { name: 'Admin', exact: true }).click()
  await a.page.getByRole('link', { name: /Roles & permissions/ }).click()
  await a.page.locator('[data-role=traveller]').waitFor()
  const perm = a.page.locator('[data-role=traveller] [data-perm="GET /v1/users"]')
  const box = perm.locator('input[type=checkbox]')
  assert.equal(await box.isChecked(), false)
  assert.match(await text(perm.locator('xpath=ancestor::fieldset/legend')), /permission/i)
  await box.check()
  await perm.getByText('saving…').waitFor({ state: 'detached' })
  assert.equal(await box.isChecked(), true)
  await shot(a.page, 'admin-roles-desktop')

  // the gateways reload the policy within a second: the traveller's next request is allowed
  for (let r = await usersPage(t.page); r !== 'list'; r = await usersPage(t.page)) {}
  await t.page.locator('[data-test=users] li').first().waitFor()

  // revoked: refused again
  await box.uncheck()
  await perm.getByText('saving…').waitFor({ state: 'detached' })
  assert.equal(await box.isChecked(), false)
  for (let r = await usersPage(t.page); r === 'list'; r = await usersPage(t.page)) {}
  assert.match(await text(t.page.locator('[data-test=error]')), /not allow/)
  await a.context.close()
  await t.context.close()
})

test('an admin finds a user, grants them the expert role, and disables and enables the account', async () => {
  const user = await newUser('pro', 'Paula Pro')
  const a = await newPage(browser, DESKTOP)
  await signIn(a.page, { account: ADMIN.account, password: ADMIN.password })
  await a.page.goto('/admin/users')
  await a.page.locator('[data-test=users] li').first().waitFor()
  await shot(a.page, 'admin-users-desktop')
  await a.page.locator('input[name=account]').fill(user.account)
  await a.page.getByRole('button', { name: 'Filter' }).click()
  await a.page.waitForURL(new RegExp(`account=${user.account}`))
  const row = a.page.locator(`[data-test=users] li[data-user="${user.account}"]`)
  await row.waitFor()
  await until(a.page, () => document.querySelectorAll('[data-test=users] li').length === 1)

  await row.getByRole('button', { name: 'Roles' }).click()
  await row.locator('[data-role=traveller]').waitFor()
  await row.locator('select[name=role]').selectOption({ label: 'expert' })
  await row.getByRole('button', { name: 'Grant' }).click()
  await row.locator('[data-role=expert]').waitFor()

  await row.getByRole('button', { name: 'Disable' }).click()
  await row.locator('[data-test=disabled]').waitFor()
  // a disabled user cannot sign in, and is told why
  const u = await newPage(browser, PHONE)
  await u.page.goto('/signin')
  await u.page.locator('input[name=account]').fill(user.account)
  await u.page.locator('input[name=password]').fill(user.password)
  await u.page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await u.page.locator('[data-test=error]').waitFor()
  await row.getByRole('button', { name: 'Enable' }).click()
  await row.locator('[data-test=disabled]').waitFor({ state: 'detached' })

  // now enabled again, and an expert: they sign in and see travellers' side of chat
  await u.page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await u.page.locator('[data-test=whoami]').waitFor({ state: 'attached' })
  await u.page.goto('/account')
  await u.page.locator('[data-test=roles]').getByText(/expert/).waitFor()
  await a.page.setViewportSize(PHONE)
  await shot(a.page, 'admin-users-phone')
  await a.context.close()
  await u.context.close()
})

test('an admin creates a role, grants it a permission, and deletes it; a bad name is named at its field', async () => {
  const a = await newPage(browser, DESKTOP)
  await signIn(a.page, { account: ADMIN.account, password: ADMIN.password })
  await a.page.goto('/admin/roles')
  await a.page.locator('[data-role-tab=traveller]').waitFor()
  const form = a.page.locator('[data-test=new-role]')

  await form.locator('input[name=name]').fill('Tour Guide!')
  await form.getByRole('button', { name: 'Create role' }).click()
  await form.locator('[data-field-error=name]').waitFor()

  const name = `guide_${Date.now().toString(36)}`
  await form.locator('input[name=name]').fill(name)
  await form.locator('input[name=description]').fill('Leads tours')
  await form.getByRole('button', { name: 'Create role' }).click()
  await a.page.locator(`[data-role-tab=${name}][aria-selected=true]`).waitFor()
  const perm = a.page.locator(`[data-role=${name}] [data-perm="GET /v1/users"] input`)
  assert.equal(await perm.isChecked(), false, 'a new role holds nothing')
  await perm.check()
  await until(a.page, (n) => !document.querySelector(`[data-role=${n}] .perm small.muted`)?.textContent.includes('saving'), name)

  // the grant is stored: it is there after a reload
  await a.page.reload()
  await a.page.locator(`[data-role-tab=${name}]`).click()
  await a.page.locator(`[data-role=${name}]`).waitFor()
  await until(a.page, (n) => document.querySelector(`[data-role=${n}] [data-perm="GET /v1/users"] input`)?.checked, name)

  a.page.once('dialog', (d) => d.accept())
  await a.page.locator('[data-test=delete-role]').click()
  await a.page.locator(`[data-role-tab=${name}]`).waitFor({ state: 'detached' })
  assert.equal(await a.page.locator('[data-role-tab=traveller]').getAttribute('aria-selected'), 'true')
  assert.equal(await a.page.locator('[data-test=delete-role]').count(), 0, 'a built-in role cannot be deleted')
  await a.context.close()
})

test('a role made by an admin shows its holder the admin areas it reaches, whatever it is called', async () => {
  const token = await admin()
  const role = await api('/v1/roles', { method: 'POST', body: { name: unique('curator_'), description: 'Keeps the catalog' }, token })
  const create = await api('/v1/permissions?resource=trips&method=POST', { token })
  await api(`/v1/roles/${role.id}/permissions`, { method: 'POST', body: { permission_id: create.results[0].id }, token })
  const curator = await newUser('curator')
  await api(`/v1/users/${curator.id}/roles`, { method: 'POST', body: { role_id: role.id }, token })

  const c = await newPage(browser, DESKTOP)
  await signIn(c.page, curator)
  await c.page.getByRole('link', { name: 'Admin', exact: true }).click()
  await c.page.locator('a.tile[href="/admin/trips"]').waitFor()
  assert.equal(await c.page.locator('a.tile').count(), 1, 'the trips tile only: no users, roles or orders')
  await c.context.close()
})
