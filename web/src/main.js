import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router.js'
import { restore, setSignedOutHandler, session } from './session.js'
import './style.css'

setSignedOutHandler(() => {
  const cur = router.currentRoute.value
  if (cur.name !== 'signin' && cur.name !== 'register') {
    router.push({ name: 'signin', query: { next: cur.fullPath } })
  }
})

// For the end-to-end tests (read-only): when the access token expires, how often it was renewed.
window.__waypoint = {
  expiresIn: () => Math.max(0, (session.expiresAt - Date.now()) / 1000),
  refreshes: () => session.refreshes,
}

// Restore the session (refresh cookie or a WeChat one-time code) before the first route.
restore().then(() => {
  createApp(App).use(router).mount('#app')
})
