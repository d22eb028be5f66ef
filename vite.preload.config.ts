// The preload runs sandboxed, where require() reaches only 'electron' and a few built-ins: it is
// bundled into one CommonJS file with the contract (and zod) inside.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: fileURLToPath(new URL('./out/preload', import.meta.url)),
    emptyOutDir: true,
    target: 'node22',
    minify: false,
    lib: { entry: fileURLToPath(new URL('./preload/index.ts', import.meta.url)), formats: ['cjs'], fileName: () => 'index.cjs' },
    rollupOptions: { external: ['electron'] },
  },
});
