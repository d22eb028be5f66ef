// Renderer build (one app, every role). Cesium's static assets (workers, Natural Earth II imagery,
// widgets' CSS images) are copied beside the bundle so the globe never fetches anything from outside.
import vue from '@vitejs/plugin-vue';
import { cpSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

function copyCesiumAssets(outDir: string): Plugin {
  return {
    name: 'beacon-copy-cesium-assets',
    apply: 'build',
    closeBundle() {
      const from = here('./node_modules/cesium/Build/Cesium/');
      for (const dir of ['Assets', 'ThirdParty', 'Workers', 'Widgets']) cpSync(from + dir, `${outDir}/cesium/${dir}`, { recursive: true });
    },
  };
}

/** Cesium's sources carry development checks between `//>>includeStart('debug', …)` and
 *  `//>>includeEnd('debug')` (argument type checks on every call, ~2,000 of them). Cesium's own
 *  release build strips them; so does ours. Measured in the globe bench: the update path and the
 *  frame both pay for them (docs/architecture.md, "Globe"). */
const DEBUG_PRAGMA = /\/\/>>includeStart\(\s*(['"])debug\1\s*,\s*pragmas\.debug\s*\);?[\s\S]*?\/\/>>includeEnd\(\s*(['"])debug\2\s*\);?/g;
export function stripCesiumDebug(): Plugin {
  return {
    name: 'beacon-strip-cesium-debug',
    apply: 'build',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]@cesium[\\/]engine[\\/]Source[\\/].*\.js$/.test(id) || !code.includes('>>includeStart')) return null;
      return { code: code.replace(DEBUG_PRAGMA, ''), map: null };
    },
  };
}

// `--mode probe` (npm run build:renderer:probe, into out/renderer-probe): the build the browser tests
// and bench:globe open, with the globe's probe (?probe=1: where things are on screen) and the
// benchmark code. The production build has neither: `import.meta.env.MODE === 'probe'` is false there
// and the bundler drops the code behind it (tests/e2e/bundle.test.ts checks).
export default defineConfig(({ mode }) => {
  const outDir = here(mode === 'probe' ? './out/renderer-probe' : './out/renderer');
  return {
    root: here('./renderer'),
    base: './',
    plugins: [stripCesiumDebug(), vue(), copyCesiumAssets(outDir)],
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2023',
      chunkSizeWarningLimit: 6000,
      // Inline assets would need data: URLs in the CSP for fonts/images; keep them as files.
      assetsInlineLimit: 0,
    },
    server: { port: 5173, strictPort: true },
  };
});
