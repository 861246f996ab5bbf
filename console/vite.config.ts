// The console is served by the hub at /console (src/console.rs embeds dist/).
// The build is reproducible: content-hashed file names, no timestamps, no source
// maps, nothing fetched at run time (no CDN, no remote fonts).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    // One stylesheet and a few scripts; no inline `data:` assets that a strict CSP would refuse.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        manualChunks: (id) => (id.includes('node_modules') ? 'vendor' : undefined),
      },
    },
  },
  server: {
    host: '127.0.0.1',
    port: 5722,
    strictPort: true,
    // `npm run dev` against a running hub: MANDATE_HUB=http://127.0.0.1:8089 npm run dev
    proxy: {
      '/console/session': process.env.MANDATE_HUB || 'http://127.0.0.1:8089',
      '/admin/graphql': process.env.MANDATE_HUB || 'http://127.0.0.1:8089',
      '/graphql': process.env.MANDATE_HUB || 'http://127.0.0.1:8089',
    },
  },
});
