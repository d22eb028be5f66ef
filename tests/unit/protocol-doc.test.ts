// docs/protocol.md cannot drift from the contract: every topic, command and error code in common/
// has its row, and the document names none that the contract does not have.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, ERROR_CODES, TOPICS } from '../../common/contract.ts';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** The first column's names (`name`, or `a` / `b`) of the table under a "## Heading". */
function tableNames(heading: string): string[] {
  const start = doc.indexOf(`\n## ${heading}\n`);
  expect(start, `docs/protocol.md has a "## ${heading}" section`).toBeGreaterThan(-1);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const names: string[] = [];
  for (const line of section.split('\n')) {
    const first = /^\|([^|]+)\|/.exec(line)?.[1];
    if (!first) continue;
    for (const m of first.matchAll(/`([^`]+)`/g)) names.push(m[1]!);
  }
  return names;
}

describe('docs/protocol.md against the contract', () => {
  const drift = (documented: string[], actual: readonly string[]) => ({
    undocumented: actual.filter((n) => !documented.includes(n)),
    unknown: documented.filter((n) => !actual.includes(n)),
  });

  it('documents every topic, and only those', () => {
    expect(drift(tableNames('Topics'), TOPICS)).toEqual({ undocumented: [], unknown: [] });
  });

  it('documents every command, and only those', () => {
    expect(drift(tableNames('Commands'), COMMAND_NAMES)).toEqual({ undocumented: [], unknown: [] });
  });

  it('documents every error code, and only those', () => {
    expect(drift(tableNames('Errors and limits'), ERROR_CODES)).toEqual({ undocumented: [], unknown: [] });
  });
});
