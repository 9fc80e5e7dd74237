/**
 * Builds the React workbench (src/renderer) into dist/renderer. The same
 * bundle is loaded by the Electron window (app://twinlens/) and served by the
 * web-mode server, so it uses relative asset paths and nothing inline: the
 * strict CSP (script-src 'self', style-src 'self') holds in both hosts.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'src/renderer',
  base: './',
  plugins: [react()],
  build: {
    outDir: '../../dist/renderer',
    emptyOutDir: true,
    // No inline <script> for the modulepreload polyfill: Chromium and Electron support modulepreload natively.
    modulePreload: { polyfill: false },
    // Inlined assets would become data: URLs in scripts/styles; keep every asset a file.
    assetsInlineLimit: 0,
    sourcemap: true,
    target: 'chrome120',
    chunkSizeWarningLimit: 1500,
  },
  server: { port: 5173, strictPort: false },
});
