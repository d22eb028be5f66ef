// Typhoon grades by GB/T 19201-2006, from the 2-minute mean wind at the centre (m/s).
import type { Grade } from './domain.ts';

export function gradeOf(windMs: number): Grade | null {
  if (windMs >= 51.0) return 'SuperTY';
  if (windMs >= 41.5) return 'STY';
  if (windMs >= 32.7) return 'TY';
  if (windMs >= 24.5) return 'STS';
  if (windMs >= 17.2) return 'TS';
  if (windMs >= 10.8) return 'TD';
  return null;
}
