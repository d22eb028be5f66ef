// Where Beacon's files are: the package root (source tree or packaged app) and the default data dir.
import { existsSync, readFileSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/** The folder holding Beacon's package.json, found upward from this file (works from the source
 *  tree and from the compiled out/node tree alike). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'beacon') return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find Beacon package.json');
    dir = up;
  }
}

/** The per-user data directory, as Electron's userData would place it. */
export function defaultDataDir(): string {
  const home = homedir();
  if (platform() === 'win32') return join(process.env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Beacon');
  if (platform() === 'darwin') return join(home, 'Library', 'Application Support', 'Beacon');
  return join(process.env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'beacon');
}
