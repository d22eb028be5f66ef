// The typhoon desk of the core: imports, advisories, the shared replay and the threat analysis.
// The analysis runs here, once, and goes out on the `analysis` topic so the globe, the board and
// every remote console show the same ranking at the same storm time.
import { createHash } from 'node:crypto';
import type { CommandArgs, CommandResult } from '../../../common/contract.ts';
import type { Advisory, Analysis, Place, Replay, Risk, Typhoon } from '../../../common/domain.ts';
import { currentAdvisories, replayTime } from '../../../common/typhoon.ts';
import { HubError } from '../hub/hub.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort } from '../kernel/port.ts';
import { parseAdvisory } from './advisory.ts';
import { parseCma } from './cma.ts';
import { loadLand, type Land } from './coastline.ts';
import { analyse } from './threat.ts';

const HOUR = 3600_000;
/** A storm with data this recent is live and analysed at the hall's clock. */
const LIVE_WINDOW = 24 * HOUR;
/** Default replay speed: one storm hour per wall second. */
const DEFAULT_SPEED = 3600;

export class TyphoonDesk implements Desk {
  private readonly port: HallPort;
  private readonly now: () => number;
  private replay: Replay;
  private land: Land | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pending: NodeJS.Timeout | null = null;
  private lastLive = 0;
  private readonly published = new Set<string>();
  readonly counters = { analyses: 0, analysisMs: 0, imports: 0, importErrors: 0, advisories: 0, advisoriesRejected: 0 };

  private unsubChange: (() => void) | null = null;

  readonly commands: CommandHandlers = {
    'typhoon.import': (args, ctx) => this.importCma(args, ctx.origin),
    'typhoon.advisory': ({ advisory }, ctx) => this.submitAdvisory(advisory, ctx.origin),
    'replay.set': async (args, ctx) => {
      const r = this.setReplay(args);
      await this.port.record('replay.set', 'replay', { replay: r as unknown as Record<string, unknown>, by: ctx.by }, ctx.origin);
      return r;
    },
    'risk.set': async (args, ctx) => ({ events: await this.setRisk(args, ctx.by, ctx.origin) }),
  };

  constructor(port: HallPort) {
    this.port = port;
    this.now = () => port.now();
    const t = this.now();
    this.replay = { id: 'replay', storm: null, t, anchor: t, playing: false, speed: DEFAULT_SPEED, start: t, end: t };
  }

  start(): void {
    const newest = this.storms().sort((a, b) => this.span(b)[1] - this.span(a)[1])[0];
    if (newest) this.replay = this.select(newest.id, null);
    this.port.replace('replay', [this.replay]);
    this.unsubChange = this.port.onChange((topic) => {
      if (topic === 'typhoons' || topic === 'advisories') {
        // The span grows with a new fix or forecast.
        if (this.replay.storm) {
          const [start, end] = this.span(this.port.get<Typhoon>('typhoons', this.replay.storm)!);
          if (start !== this.replay.start || end !== this.replay.end) this.publishReplay({ ...this.replay, start, end });
        } else {
          const first = this.storms()[0];
          if (first) this.publishReplay(this.select(first.id, null));
        }
        this.schedule();
      }
    });
    this.analyseNow();
    this.timer = setInterval(() => {
      const now = this.now();
      if (this.replay.playing) {
        if (replayTime(this.replay, now) >= this.replay.end) this.publishReplay({ ...this.replay, t: this.replay.end, anchor: now, playing: false });
        this.schedule(0);
      } else if (now - this.lastLive > 60_000) this.schedule(0);
    }, 1000);
    this.timer.unref();
  }

  dispose(): void {
    this.unsubChange?.();
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
  }

  // ---- replay --------------------------------------------------------------------------------

  setReplay(args: CommandArgs<'replay.set'>): Replay {
    const now = this.now();
    let r = { ...this.replay, t: replayTime(this.replay, now), anchor: now };
    if (args.storm !== undefined && args.storm !== r.storm) {
      if (args.storm !== null && !this.port.get('typhoons', args.storm)) throw new HubError('not_found', `no typhoon ${args.storm}`);
      r = args.storm === null ? { ...r, storm: null, playing: false } : { ...this.select(args.storm, args.t ?? null), speed: r.speed };
    }
    if (args.t !== undefined) r.t = Math.min(r.end, Math.max(r.start, args.t));
    if (args.speed !== undefined) r.speed = args.speed;
    if (args.playing !== undefined) {
      r.playing = args.playing && r.storm !== null;
      // Play from the end restarts from the beginning, as any player does.
      if (r.playing && r.t >= r.end) r.t = r.start;
    }
    this.publishReplay(r);
    this.schedule(0);
    return r;
  }

  private select(storm: string, t: number | null): Replay {
    const ty = this.port.get<Typhoon>('typhoons', storm)!;
    const [start, end] = this.span(ty);
    const lastFix = ty.fixes.length ? ty.fixes[ty.fixes.length - 1]!.t : start;
    return { id: 'replay', storm, t: Math.min(end, Math.max(start, t ?? lastFix)), anchor: this.now(), playing: false, speed: this.replay?.speed ?? DEFAULT_SPEED, start, end };
  }

  private publishReplay(r: Replay): void {
    this.replay = r;
    this.port.publish('replay', [{ op: 'put', id: 'replay', value: r }]);
  }

  private storms(): Typhoon[] {
    return this.port.all<Typhoon>('typhoons');
  }

  private advisoriesOf(storm: string): Advisory[] {
    return this.port.all<Advisory>('advisories').filter((a) => a.storm === storm);
  }

  /** First and last moment the hall has data for: fixes, then every advisory's forecast. */
  private span(ty: Typhoon): [number, number] {
    let start = ty.fixes[0]?.t ?? Infinity;
    let end = ty.fixes[ty.fixes.length - 1]?.t ?? -Infinity;
    for (const a of this.advisoriesOf(ty.id)) {
      start = Math.min(start, a.current.t);
      end = Math.max(end, a.forecast[a.forecast.length - 1]?.t ?? a.current.t);
    }
    if (!Number.isFinite(start)) start = end = this.now();
    return [start, end];
  }

  // ---- analysis ------------------------------------------------------------------------------

  private schedule(delay = 100): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.analyseNow();
    }, delay);
    this.pending.unref();
  }

  /** Analyse the replayed storm at the replay time and every live storm at the hall's clock. */
  analyseNow(): Analysis[] {
    const t0 = performance.now();
    const now = this.now();
    this.lastLive = now;
    const places = this.port.all<Place>('places');
    const jobs = new Map<string, number>();
    if (this.replay.storm) jobs.set(this.replay.storm, replayTime(this.replay, now));
    for (const ty of this.storms()) {
      if (jobs.has(ty.id)) continue;
      const [, end] = this.span(ty);
      const lastData = Math.max(ty.fixes[ty.fixes.length - 1]?.t ?? 0, ...this.advisoriesOf(ty.id).map((a) => a.current.t));
      if (now - lastData <= LIVE_WINDOW && end >= now - LIVE_WINDOW) jobs.set(ty.id, now);
    }
    if (jobs.size && !this.land) this.land = loadLand();
    const out: Analysis[] = [];
    for (const [id, t] of jobs) {
      const ty = this.port.get<Typhoon>('typhoons', id);
      if (!ty) continue;
      const current = currentAdvisories(this.advisoriesOf(id), id, t);
      out.push(analyse(ty, current, places, t, this.land));
    }
    const ops = out.map((a) => ({ op: 'put' as const, id: a.id, value: a }));
    for (const id of this.published) if (!jobs.has(id)) ops.push({ op: 'del', id } as never);
    this.published.clear();
    for (const a of out) this.published.add(a.id);
    if (ops.length) this.port.publish('analysis', ops);
    this.counters.analyses += out.length;
    this.counters.analysisMs = Math.round((performance.now() - t0) * 10) / 10;
    return out;
  }

  // ---- imports -------------------------------------------------------------------------------

  async importCma(args: CommandArgs<'typhoon.import'>, origin: string): Promise<CommandResult<'typhoon.import'>> {
    const parsed = parseCma(args.text, { firstLine: args.firstLine, source: args.file });
    this.counters.imports += 1;
    this.counters.importErrors += parsed.errors.length;
    const storms: CommandResult<'typhoon.import'>['storms'] = [];
    const events: { kind: 'typhoon.upserted'; subject: string; payload: { typhoon: Typhoon } }[] = [];
    const keys: string[] = [];
    const errors = [...parsed.errors];
    const batch = new Map<string, Typhoon>();
    for (const { typhoon: read, line } of parsed.storms) {
      // A record is its file and its header line. A second record under the same serial (a
      // sub-centre's, "(-)1") is another storm, not a new version of the first: it keeps an id of its
      // own (…-l<line>), whichever chunk of the file it came in, and is reported, never silently
      // replacing the first (#19 point 6).
      let typhoon = read;
      const held = batch.get(read.id) ?? this.port.get<Typhoon>('typhoons', read.id);
      const heldLine = held ? recordLine(held.source, args.file) : null;
      if (held && heldLine !== null && heldLine !== line) {
        typhoon = { ...read, id: `${read.id}-l${line}`.slice(0, 64) };
        errors.push({
          line,
          message: `a second record under serial ${read.id.replace(/^tc-\d+-/, '')} (the first at line ${heldLine}): kept as its own storm ${typhoon.id}, not as a new version of the first`,
        });
      }
      batch.set(typhoon.id, typhoon);
      const existing = this.port.get<Typhoon>('typhoons', typhoon.id);
      // The hall's Chinese name wins over the file's English-only one.
      const t: Typhoon = existing && existing.name.zh !== existing.name.en && typhoon.name.zh === typhoon.name.en ? { ...typhoon, name: { ...typhoon.name, zh: existing.name.zh } } : typhoon;
      const same = existing && JSON.stringify(existing) === JSON.stringify(t);
      storms.push({ id: t.id, name: t.name, fixes: t.fixes.length, changed: !same });
      if (same) continue;
      const hash = createHash('sha256').update(JSON.stringify(t)).digest('hex').slice(0, 16);
      events.push({ kind: 'typhoon.upserted', subject: `typhoon:${t.id}`, payload: { typhoon: t } });
      keys.push(`cma:${t.id}:${hash}`);
    }
    if (events.length) {
      const ids = await this.port.recordMany(events, origin, keys);
      ids.forEach((id, i) => {
        if (id === null) storms.find((s) => s.id === events[i]!.payload.typhoon.id)!.changed = false;
      });
    }
    errors.sort((a, b) => a.line - b.line);
    return { storms, errors: errors.slice(0, 500), lines: parsed.lines };
  }

  async submitAdvisory(input: unknown, origin: string): Promise<{ id: string; event: number }> {
    const r = parseAdvisory(input, this.now());
    if (!r.ok) {
      this.counters.advisoriesRejected += 1;
      throw new HubError('invalid_args', `advisory refused: ${r.error}`);
    }
    this.counters.advisories += 1;
    const a = r.advisory;
    const held = this.port.get<Advisory>('advisories', a.id);
    if (held && JSON.stringify({ ...held, received: 0 }) === JSON.stringify({ ...a, received: 0 })) return { id: a.id, event: 0 };
    const event = await this.port.record('typhoon.advisory', `advisory:${a.id}`, { advisory: a, name: r.name, year: r.year, number: r.number }, origin);
    return { id: a.id, event: event ?? 0 };
  }

  async setRisk(args: CommandArgs<'risk.set'>, by: string, origin: string): Promise<number> {
    const at = this.now();
    for (const it of args.items) {
      if (!this.port.get('places', it.code)) throw new HubError('not_found', `no county or city ${it.code}`);
    }
    const events = args.items.map((it) => ({
      kind: 'risk.set' as const,
      subject: `risk:${it.code}`,
      payload: { risk: { id: it.code, levels: it.levels, basis: args.basis, by, at } satisfies Risk },
    }));
    const ids = await this.port.recordMany(events, origin);
    return ids.filter((x) => x !== null).length;
  }

  stats() {
    return { ...this.counters, replay: this.replay };
  }
}

export const typhoonDesk = defineDesk()({
  name: 'typhoons',
  topics: ['typhoons', 'advisories', 'risks'],
  start(port) {
    const desk = new TyphoonDesk(port);
    desk.start();
    return desk;
  },
});

/** The header line a stored storm was read from, when it came from this file; null when it came
 *  from another file, from an advisory, or from before lines were recorded (then it is the same record). */
function recordLine(source: string, file: string | undefined): number | null {
  if (!file) return null;
  const m = / — (.+), line (\d+)$/.exec(source);
  return m && m[1] === file ? Number(m[2]) : null;
}
