import { createRouter, createWebHistory } from 'vue-router'
import { session, isAdmin } from './session.js'

const r = (path, name, load, meta = {}) => ({ path, name, component: load, meta })

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', redirect: '/trips' },
    r('/signin', 'signin', () => import('./views/SignIn.vue'), { public: true }),
    r('/register', 'register', () => import('./views/Register.vue'), { public: true }),
    r('/trips', 'trips', () => import('./views/Trips.vue'), { public: true }),
    r('/trips/:id', 'trip', () => import('./views/TripDetail.vue'), { public: true }),
    r('/for-you', 'recommendations', () => import('./views/Recommendations.vue')),
    r('/orders', 'orders', () => import('./views/Orders.vue')),
    r('/orders/:id', 'order', () => import('./views/OrderDetail.vue')),
    r('/chat', 'chat', () => import('./views/Chat.vue')),
    r('/chat/:id', 'conversation', () => import('./views/Chat.vue')),
    r('/account', 'account', () => import('./views/Account.vue')),
    r('/admin', 'admin', () => import('./views/admin/AdminHome.vue')),
    r('/admin/users', 'admin-users', () => import('./views/admin/AdminUsers.vue')),
    r('/admin/roles', 'admin-roles', () => import('./views/admin/AdminRoles.vue')),
    r('/admin/trips', 'admin-trips', () => import('./views/admin/AdminTrips.vue')),
    r('/admin/orders', 'admin-orders', () => import('./views/admin/AdminOrders.vue')),
    { path: '/:rest(.*)*', name: 'notfound', component: () => import('./views/NotFound.vue'), meta: { public: true } },
  ],
  scrollBehavior: (to, from, saved) => saved || (to.path !== from.path ? { top: 0 } : undefined),
})

// Pages other than browsing need a session; the intended route is kept in ?next=.
// (The admin pages are not hidden behind a role check here: the gateway decides, and a
// 403 is shown in plain words. The navigation shows them only to callers whose
// permissions reach them: GET /v1/me/permissions.)
router.beforeEach((to) => {
  if (!to.meta.public && !session.token) return { name: 'signin', query: { next: to.fullPath } }
  if ((to.name === 'signin' || to.name === 'register') && session.token) return { path: '/trips' }
})

export { isAdmin }
