// The command network's tree (一张网), from GB/T 2260 codes: a province hall XX0000, its city halls
// XXXX00, their county halls XXXXXX. A hall knows its place from its own code (issue 20).
export type HallLevel = 'province' | 'city' | 'county';

export function hallLevel(code: string): HallLevel | null {
  if (!/^\d{6}$/.test(code) || code.startsWith('00')) return null;
  if (code.endsWith('0000')) return 'province';
  if (code.endsWith('00')) return 'city';
  return 'county';
}

/** The hall one level up, or null for a province (or a code that is not one). */
export function parentHall(code: string): string | null {
  const level = hallLevel(code);
  if (level === 'county') return `${code.slice(0, 4)}00`;
  if (level === 'city') return `${code.slice(0, 2)}0000`;
  return null;
}

/** Whether `code` is below `of` in the tree (a child or a grandchild), not `of` itself. */
export function isDescendant(code: string, of: string): boolean {
  const level = hallLevel(of);
  if (code === of || hallLevel(code) === null) return false;
  if (level === 'province') return code.startsWith(of.slice(0, 2));
  if (level === 'city') return code.startsWith(of.slice(0, 4));
  return false;
}
