// The fixture corpus of real producers' files (tests/fixtures/README.md: source and licence of each).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const fixturePath = (path: string): string => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));
export const fixture = (path: string): string => readFileSync(fixturePath(path), 'utf8');

/** A recorded CoT event (or several) moved to `now`: time, start and stale shifted by the same amount,
 *  the rest as the device wrote it (the hall refuses a report more than a day old). */
export function retime(xml: string, now: number): string {
  const first = /\btime=["']([^"']+)["']/.exec(xml)?.[1];
  if (!first) throw new Error('no time attribute to shift');
  const shift = now - Date.parse(first);
  return xml.replace(/\b(time|start|stale)=(["'])([^"']+)\2/g, (_, k: string, q: string, v: string) => `${k}=${q}${new Date(Date.parse(v) + shift).toISOString()}${q}`);
}
