// Versions reported by /api/health, read once from package.json files.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { packageRoot } from '../core/paths.ts';

const require = createRequire(import.meta.url);
const version = (pkg: string): string | null => {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
};

export const VERSIONS = {
  beacon: (JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')) as { version: string }).version,
  node: process.versions.node,
  electron: process.versions.electron ?? null,
  sqlite: version('better-sqlite3'),
  ws: version('ws'),
};
