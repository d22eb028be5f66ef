// The sheets desk (issue 21): risk-prompt sheets (风险提示单). A sheet is drafted here (by hand, or from
// the typhoon analysis: one per county at orange or worse within 24 h), issued by a leader to halls
// below (each its own copy through the outbox), signed for and answered measure by measure there
// (their progress comes back up the network), verified and closed (销号) here, or cancelled. The
// recipients hear of a close or a cancel. Nothing is sent without a person. docs/command.md.
import type { Analysis, Place, Recipient, Sheet, SheetHazard, SheetTemplate, Site, Typhoon } from '../../../common/domain.ts';
import { isDescendant } from '../../../common/halls.ts';
import { HubError } from '../hub/hub.ts';
import { type CommandHandlers, defineDesk, type Desk, type HallPort, type JournalEvent } from '../kernel/port.ts';
import { hallIdentity, hallName, type NetworkView } from '../network/identity.ts';
import { measuresFor } from './templates.ts';

/** How long a recipient has to sign for a sheet (限时签收), unless its feedback is due sooner. */
const SIGN_WITHIN_MS = 30 * 60_000;
const fresh = (): Recipient => ({ delivered: null, signedAt: null, signedBy: null, feedback: {}, verifiedAt: null, verifiedBy: null });
const YEAR = new Intl.DateTimeFormat('en', { timeZone: 'Asia/Shanghai', year: 'numeric' });
const BJ = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false, month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export class SheetsDesk implements Desk {
  readonly commands: CommandHandlers;
  private readonly port: HallPort;
  private readonly net: NetworkView | null;
  readonly hallId: string;

  constructor(port: HallPort, net: NetworkView | null, hallId: string) {
    this.port = port;
    this.net = net;
    this.hallId = hallId;
    this.commands = {
      'sheet.draft': async (a, ctx) => {
        const was = a.id ? this.own(a.id) : undefined;
        if (a.id && !was) throw new HubError('not_found', `no sheet ${a.id}`);
        if (was && was.state !== 'draft') throw new HubError('invalid_args', `sheet ${was.number} is ${was.state}: only a draft can be edited`);
        this.checkTargets(a.targets);
        const sheet = this.draft(was, ctx.by, {
          hazard: a.hazard,
          title: a.title,
          judgement: a.judgement,
          basis: a.basis ?? null,
          targets: [...new Set(a.targets)],
          points: a.points ?? [],
          measures: a.measures.map((m, i) => ({ id: `m${i + 1}`, ...m })),
          feedbackDue: a.feedbackDue,
          attachments: a.attachments ?? [],
        });
        const event = await port.record('sheet.drafted', `sheet:${sheet.id}`, { sheet }, ctx.origin);
        return { id: sheet.id, event: event ?? 0 };
      },
      'sheet.draftFromAnalysis': async ({ storm }, ctx) => {
        const events = this.fromAnalysis(storm, ctx.by);
        if (events.length) await port.recordMany(events, ctx.origin);
        return { ids: events.map((e) => (e.payload as { sheet: Sheet }).sheet.id) };
      },
      'template.put': async ({ hazard, level, measures, feedbackHours, source }, ctx) => {
        const template: SheetTemplate = {
          id: `${hazard}:${level}`,
          hazard,
          level,
          measures,
          feedbackHours,
          source: source ?? `${this.hallName()} ${ctx.by}`,
          updatedBy: ctx.by,
          updatedAt: port.now(),
          demo: false,
        };
        const event = await port.record('template.saved', `template:${template.id}`, { template }, ctx.origin);
        return { id: template.id, event: event ?? 0 };
      },
      'sheet.issue': async ({ id }, ctx) => {
        const s = this.own(id);
        if (!s) throw new HubError('not_found', `no sheet ${id}`);
        if (s.state !== 'draft') throw new HubError('invalid_args', `sheet ${s.number} is already ${s.state}`);
        this.checkTargets(s.targets);
        const now = port.now();
        const year = YEAR.format(now);
        const n = port.all<Sheet>('sheets').filter((x) => x.direction === 'out' && x.issuedAt !== null && YEAR.format(x.issuedAt) === year).length + 1;
        const issued: Sheet = {
          ...s,
          number: `${this.hallName()}风险提示〔${year}〕${n}号`,
          issuer: { ...s.issuer, by: ctx.by },
          state: 'issued',
          issuedAt: now,
          signBy: Math.min(now + SIGN_WITHIN_MS, s.feedbackDue),
          recipients: Object.fromEntries(s.targets.map((t) => [t, fresh()])),
        };
        await port.recordMany([{ kind: 'sheet.issued', subject: `sheet:${issued.id}`, payload: { sheet: issued } }, ...this.dispatch(issued)], ctx.origin);
        return { id: issued.id, number: issued.number, to: issued.targets };
      },
      'sheet.cancel': async ({ id, reason }, ctx) => {
        const s = this.own(id);
        if (!s) throw new HubError('not_found', `no sheet ${id}`);
        const at = port.now();
        const ids = await port.recordMany([{ kind: 'sheet.cancelled', subject: `sheet:${id}`, payload: { id, by: ctx.by, at, reason } }], ctx.origin);
        const after = this.own(id)!;
        if (after.issuedAt !== null) await port.recordMany(this.dispatch(after), ctx.origin);
        return { event: ids[0] ?? 0 };
      },
      'sheet.verify': async ({ id, hall }, ctx) => {
        if (!this.own(id)) throw new HubError('not_found', `no sheet ${id}`);
        const event = await port.record('sheet.verified', `sheet:${id}`, { id, hall, by: ctx.by, at: port.now() }, ctx.origin);
        return { event: event ?? 0 };
      },
      'sheet.close': async ({ id }, ctx) => {
        if (!this.own(id)) throw new HubError('not_found', `no sheet ${id}`);
        const ids = await port.recordMany([{ kind: 'sheet.closed', subject: `sheet:${id}`, payload: { id, by: ctx.by, at: port.now() } }], ctx.origin);
        await port.recordMany(this.dispatch(this.own(id)!), ctx.origin);
        return { event: ids[0] ?? 0 };
      },
      'sheet.sign': async ({ id }, ctx) => {
        this.received(id);
        const event = await port.record('sheet.signed', `sheet:${id}`, { id, hall: hallId, by: ctx.by, at: port.now() }, ctx.origin);
        return { event: event ?? 0 };
      },
      'sheet.feedback': async ({ id, measure, status, text, photo, lat, lon }, ctx) => {
        this.received(id);
        const feedback = { status, text, photo: photo ?? null, lat: lat ?? null, lon: lon ?? null, by: ctx.by, at: port.now() };
        const event = await port.record('sheet.feedback', `sheet:${id}`, { id, hall: hallId, measure, feedback }, ctx.origin);
        return { event: event ?? 0 };
      },
    };
  }

  private own(id: string): Sheet | undefined {
    const s = this.port.get<Sheet>('sheets', id);
    return s?.direction === 'out' ? s : undefined;
  }

  private received(id: string): Sheet {
    const s = this.port.get<Sheet>('sheets', id);
    if (!s || s.direction !== 'in') throw new HubError('not_found', `no sheet ${id} from above`);
    return s;
  }

  private hallName(): string {
    return hallName(this.port, this.hallId);
  }

  /** A draft with these contents: new, or `was` edited (its id and creation kept). */
  private draft(was: Sheet | undefined, by: string, c: Pick<Sheet, 'hazard' | 'title' | 'judgement' | 'basis' | 'targets' | 'points' | 'measures' | 'feedbackDue' | 'attachments'>): Sheet {
    return {
      ...c,
      id: was?.id ?? this.newId(),
      number: '',
      direction: 'out',
      issuer: { hall: this.hallId, name: this.hallName(), by },
      state: 'draft',
      createdAt: was?.createdAt ?? this.port.now(),
      signBy: null,
      issuedAt: null,
      closedAt: null,
      closedBy: null,
      cancelled: null,
      recipients: {},
      demo: false,
    };
  }

  /** A sheet's id from its draft on (issuing gives it its printed number). */
  private newId(): string {
    return `${this.hallId}-${this.port.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`.slice(0, 19);
  }

  private checkTargets(targets: readonly string[]): void {
    const below = new Set(this.net?.descendants() ?? []);
    const bad = targets.filter((t) => !below.has(t));
    if (bad.length) throw new HubError('invalid_args', `not a hall below ${this.hallId}: ${bad.slice(0, 5).join(', ')}`);
  }

  /** One copy per target, through the outbox: each recipient sees its own progress only. */
  private dispatch(s: Sheet): JournalEvent[] {
    const now = this.port.now();
    return s.targets.map((t) => ({
      kind: 'sheet.dispatched' as const,
      subject: `sheet:${s.id}`,
      payload: {
        to: t,
        key: `${this.hallId}:${s.id}:${s.state}`,
        from: `${this.hallName()} ${s.issuer.by}`.slice(0, 200),
        sentAt: now,
        body: { ...s, recipients: { [t]: s.recipients[t] ?? fresh() } },
      },
    }));
  }

  /** Drafts from the typhoon analysis: one per county of this hall's area that the analysis puts at
   *  orange or worse within 24 h; an existing draft for the same county and storm is updated. */
  private fromAnalysis(storm: string | undefined, by: string): JournalEvent[] {
    const now = this.port.now();
    const below = new Set(this.net?.descendants() ?? []);
    const out: JournalEvent[] = [];
    for (const a of this.port.items('analysis') as Analysis[]) {
      if (storm && a.id !== storm) continue;
      const name = this.port.get<Typhoon>('typhoons', a.id)?.name.zh ?? a.id;
      for (const p of a.places) {
        if (p.kind !== 'county' || !below.has(p.code) || !isDescendant(p.code, this.hallId)) continue;
        const worst = (['now', 'h3', 'h6', 'h24'] as const).map((h) => p.proposal[h]);
        const level = worst.includes('red') ? 'red' : worst.includes('orange') ? 'orange' : null;
        if (!level) continue;
        const place = this.port.get<Place>('places', p.code);
        const county = place?.name.zh ?? p.code;
        const hazard: SheetHazard = 'typhoon';
        const t = measuresFor(this.port.get<SheetTemplate>('templates', `${hazard}:${level}`));
        const wind = [p.force7 && `${BJ.format(p.force7.t)}起7级大风`, p.force10 && `${BJ.format(p.force10.t)}起10级大风`, p.force12 && `${BJ.format(p.force12.t)}起12级大风`]
          .filter(Boolean)
          .join('，');
        const judgement = `受${name}影响，预计${county}${wind || '将受大风影响'}，24小时内为${level === 'red' ? '红' : '橙'}色风险。请立即落实以下防御措施，并于反馈时限前逐项反馈。`;
        const points = [
          ...(place ? [{ lat: place.lat, lon: place.lon, label: county }] : []),
          ...this.port
            .all<Site>('sites')
            .filter((s) => s.county === p.code)
            .slice(0, 10)
            .map((s) => ({ lat: s.lat, lon: s.lon, label: s.name.zh })),
        ];
        const existing = this.port.all<Sheet>('sheets').find((s) => s.direction === 'out' && s.state === 'draft' && s.basis?.storm === a.id && s.targets.length === 1 && s.targets[0] === p.code);
        const sheet = this.draft(existing, by, {
          hazard,
          title: `关于防御${name}的风险提示（${county}）`,
          judgement,
          basis: { storm: a.id, agency: p.force7?.agency ?? a.agencies[0] ?? 'CMA', horizon: 'h24' },
          targets: [p.code],
          points,
          measures: t.measures.map((m, i) => ({ id: `m${i + 1}`, text: m.text, owner: m.owner, deadline: now + m.hours * 3600_000 })),
          feedbackDue: now + t.feedbackHours * 3600_000,
          attachments: [],
        });
        out.push({ kind: 'sheet.drafted', subject: `sheet:${sheet.id}`, payload: { sheet } });
      }
    }
    return out;
  }
}

export const sheetsDesk = defineDesk()({
  name: 'sheets',
  topics: ['sheets', 'templates'],
  start: (port, ctx) => {
    const { net, hallId } = hallIdentity(port, ctx);
    return new SheetsDesk(port, net, hallId);
  },
});
