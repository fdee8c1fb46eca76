import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The UI talks only to the public API on the same origin; in `npm run dev` Vite proxies
// the API (and the chat WebSocket) to a running stack (`cargo xtask up`).
const target = process.env.WAYPOINT_URL || 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: {
    proxy: {
      '/v1': { target, changeOrigin: false, ws: true },
      '/docs': { target },
    },
  },
})
