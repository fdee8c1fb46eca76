import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router.js'
import { restore, setSignedOutHandler } from './session.js'
import './style.css'

setSignedOutHandler(() => {
  const cur = router.currentRoute.value
  if (cur.name !== 'signin' && cur.name !== 'register') {
    router.push({ name: 'signin', query: { next: cur.fullPath } })
  }
})

// Restore the session (refresh cookie or a WeChat one-time code) before the first route.
restore().then(() => {
  createApp(App).use(router).mount('#app')
})
