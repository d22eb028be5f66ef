// The production renderer carries no probe and no benchmark (they ship only in the probe build the
// browser tests and bench:globe open). Needs both builds: npm test makes them first.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const OUT = fileURLToPath(new URL('../../out/', import.meta.url));
const scripts = (build: string) => readdirSync(join(OUT, build, 'assets')).filter((f) => f.endsWith('.js'));
const holding = (build: string, word: string) => scripts(build).filter((f) => readFileSync(join(OUT, build, 'assets', f), 'utf8').includes(word));

describe('what the renderer bundles ship', () => {
  it('the production build has neither the probe nor the benchmark; the probe build has both', () => {
    for (const word of ['beaconProbe', 'benchGlobe', 'benchWire']) {
      expect(holding('renderer', word), `${word} in out/renderer`).toEqual([]);
      expect(holding('renderer-probe', word).length, `${word} in out/renderer-probe`).toBeGreaterThan(0);
    }
  });
});
