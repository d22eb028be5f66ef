// Lint, and above all the layering rules of ../shared/STYLE.md: who may import what.
//   common      nothing outside common/ (no Node, no DOM, no Electron): pure TypeScript + zod
//   native      common + node
//   main/core   common + native + node            main/server  + core
//   main/shell  + core + electron (the only place 'electron' is imported, with preload)
//   preload     common + electron's contextBridge/ipcRenderer
//   renderer    common + the browser; 'cesium' only in renderer/globe/
import prettierOff from 'eslint-config-prettier/flat';
import pluginVue from 'eslint-plugin-vue';
import tseslint from 'typescript-eslint';

const ELECTRON = { name: 'electron', message: 'electron is imported only in main/shell and preload' };
const CESIUM = [{ group: ['cesium', 'cesium/*', '@cesium/*'], message: 'Cesium is imported only in renderer/globe/' }];
const NODE = [{ group: ['node:*', 'fs', 'path', 'os', 'net', 'http', 'crypto', 'child_process', 'worker_threads', 'ws', 'better-sqlite3'], message: 'no Node modules here' }];
const up = (...dirs) => dirs.map((d) => ({ group: [`**/${d}/**`, `**/${d}`], message: `this layer may not import ${d}/` }));

const layer = (files, { paths = [], patterns = [] }, extra = {}) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { paths, patterns }], ...extra },
});

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', '.tools/**', '.scratch/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  ...pluginVue.configs['flat/recommended'],
  // Layout is Prettier's (npm run lint checks it); lint's own formatting rules would argue with it.
  prettierOff,
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'vue/multi-word-component-names': 'off',
    },
  },
  layer(
    ['common/**'],
    {
      paths: [ELECTRON, { name: 'vue', message: 'common/ is framework-free' }],
      patterns: [...NODE, ...CESIUM, { group: ['../**'], message: 'common/ imports nothing outside common/' }],
    },
    {
      'no-restricted-globals': ['error', 'window', 'document', 'localStorage', 'sessionStorage', 'location', 'navigator', 'process', 'Buffer', 'require', '__dirname'],
    },
  ),
  layer(['native/**'], { paths: [ELECTRON], patterns: [...CESIUM, ...up('main', 'renderer', 'preload')] }),
  layer(['main/core/**'], { paths: [ELECTRON], patterns: [...CESIUM, ...up('renderer', 'preload', 'shell', 'server')] }),
  layer(['main/server/**', 'main/cli.ts'], { paths: [ELECTRON], patterns: [...CESIUM, ...up('renderer', 'preload', 'shell')] }),
  layer(['main/shell/**'], { patterns: [...CESIUM, ...up('renderer', 'preload')] }),
  layer(['preload/**'], { patterns: [...NODE, ...CESIUM, ...up('main', 'native', 'renderer')] }),
  layer(['renderer/**'], { paths: [ELECTRON], patterns: [...NODE, ...CESIUM, ...up('main', 'native', 'preload')] }),
  // The globe folder is the one place in the renderer that may import Cesium.
  layer(['renderer/globe/**'], { paths: [ELECTRON], patterns: [...NODE, ...up('main', 'native', 'preload')] }),
);
