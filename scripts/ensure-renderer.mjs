// `npm run serve` builds the renderer first when there is no build or the sources are newer;
// `--probe`: the probe build the benchmarks open (out/renderer-probe).
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const probe = process.argv.includes('--probe');
const index = probe ? 'out/renderer-probe/index.html' : 'out/renderer/index.html';
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
const stale = !existsSync(index) || Math.max(newest('renderer'), newest('common')) > statSync(index).mtimeMs;
if (stale) {
  console.log('building the renderer (first start or sources changed)…');
  execSync(probe ? 'npm run build:renderer:probe' : 'npm run build:renderer', { stdio: 'inherit' });
}
