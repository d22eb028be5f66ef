// DATA/tiles/sources.json: the online map sources, as `beacon tiles add-source`, the globe's panel
// (tiles.source.put) and the hall at start all read and write them.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const sourcesFile = (dataDir: string) => join(dataDir, 'tiles', 'sources.json');

/** The entries as stored (each still to be checked); [] when there is no file. Throws with the
 *  file's name when it is not a JSON array: a damaged file is reported, never silently overwritten. */
export function readSources(dataDir: string): unknown[] {
  const f = sourcesFile(dataDir);
  if (!existsSync(f)) return [];
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(f, 'utf8'));
  } catch (e) {
    throw new Error(`${f} is not JSON (${(e as Error).message.slice(0, 120)})`);
  }
  if (!Array.isArray(v)) throw new Error(`${f} is not a list of sources`);
  return v;
}

/** Replace the file whole (written beside it and renamed: never half a file at the next start). */
export function writeSources(dataDir: string, list: unknown[]): void {
  mkdirSync(join(dataDir, 'tiles'), { recursive: true });
  const f = sourcesFile(dataDir);
  // owner only: the file holds tile services' keys
  writeFileSync(`${f}.tmp`, JSON.stringify(list, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${f}.tmp`, f);
}

/** The list with `src` in place of any entry of the same id. */
export const withSource = (list: unknown[], src: { id: string }): unknown[] => [...list.filter((s) => (s as { id?: unknown }).id !== src.id), src];
