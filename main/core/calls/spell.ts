// Search keys for the directory: a duty officer types "wl" or "wenling" for 温岭 faster than the
// characters. pinyin-pro reads place names well; where a name has a rare reading the whole Chinese
// name and the admin code still find it.
import { pinyin } from 'pinyin-pro';

export function spellOf(zh: string): string {
  const syllables = pinyin(zh, { toneType: 'none', type: 'array', nonZh: 'consecutive' })
    .map((s) => s.toLowerCase().replace(/[^a-z0-9]/g, ''))
    .filter(Boolean);
  const initials = syllables.map((s) => s[0]).join('');
  return `${initials} ${syllables.join('')}`.slice(0, 600);
}
