// The hall's credentials, kept beside the store and never in it: the SQLite file is copied around
// for after-action review, these files are not. DATA/operators.json (who may sign in, with a scrypt
// hash of each PIN) and DATA/consoles.json (remote consoles' tokens, as SHA-256 hashes: a token is
// 32 random bytes, so a fast hash is enough; a PIN is short, so it gets scrypt). Both 0600, written
// whole to a temporary file and renamed, read again whenever they change on disk: `beacon operator`
// and `beacon token` edit them while a hall runs, and the hall follows within a second.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { OperatorRole } from '../../../common/trust.ts';

// ---- secrets ------------------------------------------------------------------------------------

/** scrypt's cost: N=2^15, r=8 (32 MiB of memory per guess): a stolen operators.json costs an
 *  attacker that much for every guess at every PIN, while one sign-in stays a blink for a person. */
const SCRYPT = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function scryptAsync(secret: string, salt: Buffer, len: number, o: typeof SCRYPT): Promise<Buffer> {
  return new Promise((ok, fail) => scrypt(secret.normalize('NFC'), salt, len, o, (err, key) => (err ? fail(err) : ok(key))));
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64url. */
export async function hashPin(pin: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(pin, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPin(pin: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([\w-]+)\$([\w-]+)$/.exec(stored);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const want = Buffer.from(m[5]!, 'base64url');
  const got = await scryptAsync(pin, Buffer.from(m[4]!, 'base64url'), want.length, { N, r, p, maxmem: Math.max(SCRYPT.maxmem, 256 * N * r) });
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A PIN the hall accepts: 6 to 64 characters, not all one digit, not a run (123456). */
export function pinProblem(pin: string): string | null {
  if (pin.length < 6) return 'a PIN needs at least 6 characters';
  if (pin.length > 64) return 'a PIN has at most 64 characters';
  if (/^(.)\1+$/.test(pin)) return 'a PIN of one repeated character is refused';
  if ('01234567890'.includes(pin) || '09876543210'.includes(pin)) return 'a PIN that counts up or down is refused';
  return null;
}

export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('base64url');

function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// ---- the files --------------------------------------------------------------------------------

const Id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\w.-]+$/, 'letters, digits, _ . - only');
const OperatorEntry = z.object({ id: Id, name: z.string().trim().min(1).max(64), role: OperatorRole, pin: z.string().startsWith('scrypt$') }).strict();
export type OperatorEntry = z.infer<typeof OperatorEntry>;
const ConsoleEntry = z
  .object({ id: Id, name: z.string().trim().min(1).max(64), role: OperatorRole, hash: z.string().min(40).max(64), created: z.number().int(), revoked: z.number().int().nullable() })
  .strict();
export type ConsoleEntry = z.infer<typeof ConsoleEntry>;
const OperatorsFile = z.object({ operators: z.array(OperatorEntry) }).strict();
const ConsolesFile = z.object({ consoles: z.array(ConsoleEntry) }).strict();

/** A JSON file of entries, read again when it changes on disk. A file that does not parse keeps the
 *  last good entries in force (and says why once): a half-edited file must not sign everyone out. */
class JsonRegistry<T> {
  private stamp = '';
  private entries: T[] = [];
  problem: string | null = null;
  /** Goes up at every reload: a reader that must notice changes keeps the last it saw (several read). */
  version = 0;
  readonly file: string;
  private readonly key: string;
  private readonly schema: z.ZodType<Record<string, T[]>>;
  constructor(file: string, key: string, schema: z.ZodType<Record<string, T[]>>) {
    this.file = file;
    this.key = key;
    this.schema = schema;
  }

  /** The entries now (read again if the file changed on disk). */
  read(): { entries: readonly T[] } {
    let stamp = 'absent';
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      /* absent: no entries */
    }
    if (stamp === this.stamp) return { entries: this.entries };
    this.stamp = stamp;
    this.version += 1;
    if (stamp === 'absent') {
      this.entries = [];
      this.problem = null;
      return { entries: this.entries };
    }
    try {
      const parsed = this.schema.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
      if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      this.entries = parsed.data[this.key]!;
      this.problem = null;
    } catch (err) {
      this.problem = `${this.file}: ${(err as Error).message}; the entries read before stay in force`;
      console.error(`beacon: ${this.problem}`);
    }
    return { entries: this.entries };
  }

  write(entries: T[]): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ [this.key]: entries }, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}

export class Operators extends JsonRegistry<OperatorEntry> {
  constructor(dataDir: string) {
    super(join(dataDir, 'operators.json'), 'operators', OperatorsFile as z.ZodType<Record<string, OperatorEntry[]>>);
  }
  get(id: string): OperatorEntry | undefined {
    return this.read().entries.find((o) => o.id === id);
  }
  /** Add or replace one (a new PIN, a new role). */
  async put(o: { id: string; name: string; role: OperatorRole; pin: string }): Promise<'added' | 'replaced'> {
    const problem = pinProblem(o.pin);
    if (problem) throw new Error(problem);
    const entry = OperatorEntry.parse({ id: o.id, name: o.name, role: o.role, pin: await hashPin(o.pin) });
    const all = [...this.read().entries];
    const i = all.findIndex((x) => x.id === o.id);
    if (i >= 0) all[i] = entry;
    else all.push(entry);
    this.write(all);
    return i >= 0 ? 'replaced' : 'added';
  }
  remove(id: string): boolean {
    const all = this.read().entries;
    if (!all.some((o) => o.id === id)) return false;
    this.write(all.filter((o) => o.id !== id));
    return true;
  }
}

export class Consoles extends JsonRegistry<ConsoleEntry> {
  constructor(dataDir: string) {
    super(join(dataDir, 'consoles.json'), 'consoles', ConsolesFile as z.ZodType<Record<string, ConsoleEntry[]>>);
  }
  /** A new console token: shown once, stored as its hash. */
  add(name: string, role: OperatorRole, now = Date.now()): { entry: ConsoleEntry; token: string } {
    const token = `bcon_${randomBytes(32).toString('base64url')}`;
    const all = [...this.read().entries];
    let id = `c${randomBytes(4).toString('hex')}`;
    while (all.some((c) => c.id === id)) id = `c${randomBytes(4).toString('hex')}`;
    const entry = ConsoleEntry.parse({ id, name, role, hash: tokenHash(token), created: now, revoked: null });
    all.push(entry);
    this.write(all);
    return { entry, token };
  }
  /** Revoke by id or by name (every token of that name). Returns the ids revoked. */
  revoke(idOrName: string, now = Date.now()): string[] {
    const all = this.read().entries.map((c) => ({ ...c }));
    const hit = all.filter((c) => c.revoked === null && (c.id === idOrName || c.name === idOrName));
    for (const c of hit) c.revoked = now;
    if (hit.length) this.write(all);
    return hit.map((c) => c.id);
  }
  /** The live console a token belongs to. */
  match(token: string): ConsoleEntry | undefined {
    if (!token.startsWith('bcon_')) return undefined;
    const h = tokenHash(token);
    return this.read().entries.find((c) => c.revoked === null && hashesEqual(c.hash, h));
  }
}
