// SPDX-License-Identifier: AGPL-3.0-or-later
// Builds the console into dist/ for rampartd.  The output must satisfy the
// console's Content-Security-Policy: no inline script or style, nothing from
// another origin, so nothing is inlined as a data: URL either.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
