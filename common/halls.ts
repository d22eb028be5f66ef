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

/**
 * Whether a unit is a hall's own in the demonstration data, so the halls of one tree hold each unit
 * once: a county its depot and its city's teams nearest its seat; a city what no county of it holds
 * (its aviation teams, at the city, and its depot); a province its own (the provincial reserve),
 * the rest reaching it from the halls below. `counties`: the county seats (code, lat, lon).
 */
export function unitInArea(u: { id: string; home: string; lat: number; lon: number }, hall: string, counties: readonly { code: string; lat: number; lon: number }[]): boolean {
  const level = hallLevel(hall);
  if (level === 'province') return u.home === hall;
  if (level === 'city') return u.home === hall && (u.id.startsWith('aviation-') || u.id === `depot-${hall}`);
  if (level !== 'county' || u.home !== parentHall(hall)) return false;
  if (u.id.startsWith('depot-')) return u.id === `depot-${hall}`;
  if (u.id.startsWith('aviation-')) return false; // at the city: the city's
  let best: string | null = null;
  let bestD = Infinity;
  for (const p of counties) {
    if (parentHall(p.code) !== u.home) continue;
    const d = (p.lat - u.lat) ** 2 + ((p.lon - u.lon) * Math.cos((u.lat * Math.PI) / 180)) ** 2;
    if (d < bestD) {
      bestD = d;
      best = p.code;
    }
  }
  return best === hall;
}

/**
 * Whose items a display shows (the globe's and board's hall filter, issue 20): `own` this hall's
 * own (no `hall`), `all` its own and every hall's below, or a hall's code: that hall's and those
 * below it (a county's items roll up through its city).
 */
export function inHallScope(hall: string | null | undefined, scope: string): boolean {
  if (scope === 'all') return true;
  if (scope === 'own') return !hall;
  return !!hall && (hall === scope || isDescendant(hall, scope));
}
