// One-key connect (一键通): the hall's switchboard. A press on a contact becomes a Call that tries
// the contact's channels in the hall's order over whatever still works: the SIP platform (video,
// VoIP, mobile through the platform's gateway) while the WAN carries it, the satellite terminal
// always. Every step is journaled (`call.updated`) and shown; the finished call (`call.logged`) is
// the call log, which also goes up to the province.
import { planChannels, DEFAULT_ORDER } from '../../../common/calls.ts';
import type { Call, CallAttempt, ConsoleEntry, Consultation, Contact, DialChannel, LinkState, Mix, MixMember, PresenterView, Relay, Switchboard, WallLayout } from '../../../common/domain.ts';
import { SatModem, type SatModemOptions } from '../../../native/modem/sat-modem.ts';
import { HubError } from '../hub/hub.ts';
import { defineDesk, type CommandHandlers, type Desk, type HallPort } from '../kernel/port.ts';
import { JanusBridge } from './bridge.ts';
import { parseContactsCsv, sameContact } from './directory.ts';
import { SipUA, type SipAccount, type SipCall } from './sip/ua.ts';

export interface CallsOptions {
  /** The hall's account on the fused-communication platform. Without it, SIP channels are skipped. */
  sip?: SipAccount & {
    /** Domain of the platform's PSTN/mobile gateway: mobile numbers are dialled as sip:<number>@it.
     *  @default the account's domain */
    mobileDomain?: string;
  };
  /** The satellite terminal. Without it, the satellite channel is skipped. */
  satellite?: SatModemOptions;
  /** @default video, VoIP, mobile, satellite */
  order?: DialChannel[];
  /** Seconds a channel may ring before one key moves on. @default 20 */
  noAnswerS?: number;
  /** Who carries a SIP call's voice (issue 22): `headset`, the calling display's microphone and
   *  speaker over WebRTC, through the platform's border controller; `terminal`, the hall's own
   *  terminal the platform bridges. @default terminal */
  media?: 'headset' | 'terminal';
  /** The platform's conference bridge (MCU) that mixes consultations: its Janus AudioBridge API
   *  (ws://…). Without it each participant is a call of its own. */
  bridge?: { url: string };
}

/** Ended calls stay on the live `calls` topic this long; the whole log is searchable. */
const LIVE_WINDOW_MS = 12 * 3600_000;

interface Live {
  call: Call;
  cancelled: boolean;
  /** Ends the channel being tried or the connected call. */
  stop: (() => void) | null;
  /** The dialling display's offer (its headset carries the media), and the far end's answer. */
  sdp: string | null;
  answer: string | null;
  /** The dialling display's session: the one that may serve the call's video to wall tiles. */
  session: string | null;
  /** The SIP call carrying it, once connected (re-INVITEs for hold). */
  sip: SipCall | null;
}

const idOf = (prefix: string, now: number) => `${prefix}-${now.toString(36)}-${Math.random().toString(36).slice(2, 7)}`;

export class CallDesk implements Desk {
  private readonly port: HallPort;
  private readonly opts: CallsOptions;
  private ua: SipUA | null = null;
  private modem: SatModem | null = null;
  private wan: LinkState = 'unknown';
  private readonly live = new Map<string, Live>();
  private presenter: PresenterView | null = null;
  private bridge: JanusBridge | null = null;
  private bridgeDetail = '';
  /** Each consultation's mix, by consultation id (the `mixes` topic). */
  private readonly mixes = new Map<string, Mix>();
  /** Calls' video relayed to wall tiles, by relay id (the `relays` topic). */
  private readonly relays = new Map<string, Relay>();
  /** Globe displays that said they are there (the `consoles` topic), by session. */
  private readonly consoles = new Map<string, ConsoleEntry>();
  private consoleTimer: NodeJS.Timeout | null = null;
  /** Members' levels waiting for the next half-second put (`<mix>\0<member>`). */
  private readonly levels = new Map<string, number>();
  private levelTimer: NodeJS.Timeout | null = null;
  private unsubLink: (() => void) | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  readonly counters = { calls: 0, connected: 0, failed: 0 };

  readonly commands: CommandHandlers = {
    'call.dial': async ({ contact, about, sdp }, ctx) => ({ id: await this.dial(contact, ctx.by, null, about ?? null, sdp ?? null, ctx.session) }),
    'relay.offer': async ({ call, sdp }, ctx) => {
      const live = this.live.get(call);
      if (!live || live.call.state !== 'connected') throw new HubError('not_found', `no call ${call} connected`);
      // only what an operator put on a wall: a tile's layout names the call
      const onWall = this.port.all<WallLayout>('walls').some((w) => w.tiles.includes(`call:${call}`));
      if (!onWall) throw new HubError('forbidden', `call ${call} is on no wall layout`);
      if (!live.sdp || !live.session) throw new HubError('unavailable', 'this call is carried by the hall terminal, not a panel headset: its video is the terminal’s');
      if ([...this.relays.values()].filter((r) => r.call === call).length >= 8) throw new HubError('invalid_args', `call ${call} already feeds 8 tiles`);
      const relay: Relay = { id: idOf('relay', this.now()), call, session: ctx.session.slice(0, 64), offer: sdp, answer: null, detail: '', at: this.now() };
      this.putRelay(relay);
      return { id: relay.id };
    },
    'relay.answer': async ({ id, sdp }, ctx) => {
      const r = this.relays.get(id);
      if (!r) throw new HubError('not_found', `no relay ${id}`);
      if (this.live.get(r.call)?.session !== ctx.session) throw new HubError('forbidden', 'only the panel whose headset carries the call serves its video');
      this.putRelay({ ...r, answer: sdp, at: this.now() });
      return { id };
    },
    'relay.close': async ({ id, detail }, ctx) => {
      const r = this.relays.get(id);
      if (!r) return { closed: false };
      if (r.session !== ctx.session && this.live.get(r.call)?.session !== ctx.session) throw new HubError('forbidden', 'a relay is closed by its tile or by the panel serving it');
      if (detail && r.session !== ctx.session) {
        // the panel cannot serve it: the tile hears why
        this.putRelay({ ...r, answer: null, detail: detail.slice(0, 300), at: this.now() });
        return { closed: true };
      }
      this.dropRelay(id);
      return { closed: true };
    },
    'call.media': async ({ id }) => {
      const live = this.live.get(id);
      if (!live) throw new HubError('not_found', `no call ${id} under way`);
      return { answer: live.answer };
    },
    'call.hold': async ({ id, held, sdp }, ctx) => {
      const live = this.live.get(id);
      if (!live?.sip || live.call.state !== 'connected') throw new HubError('not_found', `no SIP call ${id} connected`);
      if (live.session !== ctx.session) throw new HubError('forbidden', 'only the panel whose headset carries the call holds it');
      try {
        const answer = await live.sip.reinvite(sdp);
        live.sdp = sdp;
        live.answer = answer;
        console.log(`beacon: call ${id} ${held ? 'held' : 'resumed'} (re-INVITE)`);
        return { answer };
      } catch (e) {
        throw new HubError('unavailable', (e as Error).message);
      }
    },
    'call.end': async ({ id }) => {
      await this.end(id);
      return { id };
    },
    'consult.start': async ({ contacts, title }, ctx) => ({ id: await this.consult(contacts, title, ctx.by) }),
    'consult.redial': async ({ id, contact }, ctx) => ({ call: await this.redial(id, contact, ctx.by) }),
    'consult.end': async ({ id }) => {
      await this.endConsult(id);
      return { id };
    },
    'consult.mute': async ({ id, member, muted }) => {
      const { mix, m } = this.member(id, member);
      const leg = m.kind === 'headset' ? member : m.call;
      if (!m.joined || !leg) throw new HubError('invalid_args', `${m.name} is not in the mix`);
      await this.bridge!.mute(mix.room!, leg, muted).catch((e: Error) => {
        throw new HubError('unavailable', e.message);
      });
      this.setMember(id, member, { muted });
      return { muted };
    },
    'consult.join': async ({ id, sdp }, ctx) => {
      const mix = this.mixing(id);
      const member = `headset:${ctx.session.slice(0, 64)}`;
      if (mix.members[member]?.joined) await this.bridge!.leave(member);
      this.setMember(id, member, { kind: 'headset', name: ctx.by.slice(0, 64), call: null, joined: false, talking: false, level: null, muted: false, video: false, outside: '' });
      try {
        const answer = await this.bridge!.joinWebRtc(mix.room!, member, ctx.by, sdp);
        this.setMember(id, member, { joined: true });
        return { answer, member };
      } catch (e) {
        this.dropMember(id, member);
        throw new HubError('unavailable', (e as Error).message);
      }
    },
    'consult.watch': async ({ id, member }, ctx) => {
      const { m } = this.member(id, member);
      if (!m.video || !m.call) throw new HubError('not_found', `${m.name} sends no video to the bridge`);
      if (this.bridge!.watching(ctx.session) >= 32) throw new HubError('invalid_args', 'this display already watches 32 pictures');
      try {
        const w = await this.bridge!.watch(m.call, ctx.session);
        return { watch: String(w.handle), offer: w.offer };
      } catch (e) {
        throw new HubError('unavailable', (e as Error).message);
      }
    },
    'consult.watched': async ({ watch, sdp }, ctx) => {
      const h = this.watchHandle(watch, ctx.session);
      await this.bridge!.started(h, sdp).catch((e: Error) => {
        throw new HubError('unavailable', e.message);
      });
      return { watch };
    },
    'consult.unwatch': async ({ watch }, ctx) => {
      if (!this.bridge || this.bridge.watcher(Number(watch)) === null) return { stopped: false };
      await this.bridge.unwatch(this.watchHandle(watch, ctx.session));
      return { stopped: true };
    },
    'consult.picture': async ({ id, sdp }, ctx) => {
      const mix = this.mixing(id);
      const session = ctx.session.slice(0, 64);
      try {
        const answer = await this.bridge!.publish(mix.room!, `picture:${session}`, ctx.by, sdp);
        this.putMix({ ...this.mixes.get(id)!, picture: { by: ctx.by.slice(0, 64), session } });
        console.log(`beacon: consultation ${id}: ${ctx.by} sends the picture to the video terminals`);
        return { answer };
      } catch (e) {
        throw new HubError('unavailable', (e as Error).message);
      }
    },
    'consult.unpicture': async ({ id }, ctx) => {
      const mix = this.mixes.get(id);
      if (!mix?.picture) return { stopped: false };
      await this.bridge?.unpublish(`picture:${mix.picture.session}`);
      this.putMix({ ...mix, picture: null });
      console.log(`beacon: consultation ${id}: ${ctx.by} stopped the picture`);
      return { stopped: true };
    },
    'consult.leave': async ({ id }, ctx) => {
      const member = `headset:${ctx.session.slice(0, 64)}`;
      if (!this.mixes.get(id)?.members[member]) return { left: false };
      await this.bridge?.leave(member);
      this.dropMember(id, member);
      return { left: true };
    },
    'calls.search': async (q) => ({ calls: this.search(q) }),
    // the presenter's view in a consultation: live state, the last presenter wins (not journaled:
    // a camera moving four times a second is not a record; who presented is in the session log)
    'view.present': async (v, ctx) => {
      const at = this.now();
      const view: PresenterView = { id: 'presenter', by: ctx.by.slice(0, 64), session: ctx.session.slice(0, 64), ...v, pointer: v.pointer ?? null, marks: v.marks ?? [], at };
      if (!this.presenter || this.presenter.session !== view.session) console.log(`beacon: ${view.by} presents the globe view (${ctx.origin})`);
      this.presenter = view;
      this.port.publish('views', [{ op: 'put', id: 'presenter', value: view }]);
      return { at, session: view.session };
    },
    'console.here': async ({ client }, ctx) => {
      const session = ctx.session.slice(0, 64);
      const prior = this.consoles.get(session);
      const entry: ConsoleEntry = {
        id: session,
        by: ctx.by.slice(0, 64),
        client: (client ?? '').slice(0, 64),
        canPresent: ctx.who.grants.includes('operate'),
        assigned: prior?.assigned ?? false,
        at: this.now(),
      };
      this.consoles.set(session, entry);
      if (!prior || prior.by !== entry.by || prior.canPresent !== entry.canPresent) this.port.publish('consoles', [{ op: 'put', id: session, value: entry }]);
      return { session };
    },
    'view.assign': async ({ session }) => {
      if (session !== null) {
        const c = this.consoles.get(session);
        if (!c) throw new HubError('not_found', `no globe display ${session} is there`);
        if (!c.canPresent) throw new HubError('invalid_args', `${c.by} may follow but not present`);
      }
      // entries are replaced, never changed in place: the hub holds what was published
      const ops = [];
      for (const c of [...this.consoles.values()]) {
        const assigned = c.id === session;
        if (c.assigned === assigned) continue;
        const next = { ...c, assigned };
        this.consoles.set(c.id, next);
        ops.push({ op: 'put' as const, id: c.id, value: next });
      }
      if (ops.length) this.port.publish('consoles', ops);
      return { assigned: session };
    },
    'view.stop': async () => {
      if (!this.presenter) return { stopped: false };
      this.presenter = null;
      this.port.publish('views', [{ op: 'del', id: 'presenter' }]);
      return { stopped: true };
    },
    'contacts.import': async ({ csv, firstLine, dryRun }, ctx) => {
      const r = parseContactsCsv(csv, { place: (code) => this.port.get<{ kind: string }>('places', code)?.kind, contact: (id) => this.port.get<Contact>('contacts', id) }, firstLine ?? 1);
      const fresh = r.contacts.filter((c) => !this.port.get<Contact>('contacts', c.id));
      const changed = r.contacts.filter((c) => {
        const prior = this.port.get<Contact>('contacts', c.id);
        return prior && !sameContact(prior, c);
      });
      const out = { rows: r.rows, added: fresh.length, updated: changed.length, unchanged: r.contacts.length - fresh.length - changed.length, errors: r.errors.slice(0, 200) };
      // All or nothing: one bad row and the directory stays exactly as it was.
      if (r.errors.length || dryRun) return { ...out, added: r.errors.length ? 0 : out.added, updated: r.errors.length ? 0 : out.updated };
      const write = [...fresh, ...changed];
      if (write.length)
        await this.port.recordMany(
          write.map((contact) => ({ kind: 'contact.upserted' as const, subject: `contact:${contact.id}`, payload: { contact } })),
          ctx.origin,
        );
      return out;
    },
  };

  constructor(port: HallPort, opts: CallsOptions) {
    this.port = port;
    this.opts = opts;
    this.now = () => port.now();
  }

  get order(): DialChannel[] {
    return this.opts.order ?? DEFAULT_ORDER;
  }

  get noAnswerMs(): number {
    return (this.opts.noAnswerS ?? 20) * 1000;
  }

  async start(): Promise<void> {
    // The live topic holds today's calls; the whole log is searched on demand (calls.search).
    this.prune();
    this.unsubLink = this.port.onLink((l) => {
      if (l.id !== 'wan') return;
      this.wan = l.state;
      this.publish();
    });
    await this.closeInterrupted();
    this.publish();
    const starts: Promise<unknown>[] = [];
    if (this.opts.sip) {
      this.ua = new SipUA(this.opts.sip, { onRegistration: () => this.publish() });
      starts.push(this.ua.start());
    }
    if (this.opts.satellite) {
      this.modem = new SatModem({ ...this.opts.satellite, onStatus: () => this.publish() });
      starts.push(this.modem.start());
    }
    if (this.opts.bridge) {
      this.bridge = new JanusBridge(this.opts.bridge.url, {
        participant: (room, leg, change) => this.onBridge(room, leg, change),
        state: (up, detail) => {
          this.bridgeDetail = detail;
          if (!up) for (const mix of this.mixes.values()) if (mix.state === 'mixing') this.putMix({ ...mix, state: 'bridge_down', detail: `conference bridge lost: ${detail}`.slice(0, 300) });
          if (up) void this.rebuild();
          this.publish();
        },
      });
      starts.push(this.bridge.start());
    }
    await Promise.all(starts);
    this.publish();
    this.pruneTimer = setInterval(() => this.prune(), 10 * 60_000);
    this.pruneTimer.unref();
    // a globe display unheard for 30 s has gone (closed, or its link cut)
    this.consoleTimer = setInterval(() => {
      const gone = [...this.consoles.values()].filter((c) => this.now() - c.at > 30_000);
      for (const c of gone) this.consoles.delete(c.id);
      if (gone.length)
        this.port.publish(
          'consoles',
          gone.map((c) => ({ op: 'del' as const, id: c.id })),
        );
    }, 10_000);
    this.consoleTimer.unref();
  }

  /** Calls the journal shows as under way belong to a run that ended (a crash, a restart): the
   *  log says so rather than showing them ringing forever. */
  private async closeInterrupted(): Promise<void> {
    const open = this.port.all<Call>('calls').filter((c) => c.state === 'dialing' || c.state === 'ringing' || c.state === 'connected');
    for (const c of open) {
      const at = this.now();
      const attempts = c.attempts.map((a) => (a.endedAt === null ? { ...a, result: a.result === 'connected' ? ('ended' as const) : ('failed' as const), detail: 'interrupted', endedAt: at } : a));
      await this.port.record(
        'call.logged',
        `call:${c.id}`,
        { call: { ...c, attempts, state: c.answeredAt ? 'ended' : 'failed', endedAt: at, endedBy: 'interrupted', duration: c.answeredAt ? Math.round((at - c.answeredAt) / 1000) : null } },
        'calls',
      );
    }
  }

  /** Ended calls older than the live window leave the live topic (they stay in the log). */
  private prune(): void {
    const cutoff = this.now() - LIVE_WINDOW_MS;
    const old = (this.port.items('calls') as Call[]).filter((c) => c.endedAt !== null && c.endedAt < cutoff);
    if (old.length)
      this.port.publish(
        'calls',
        old.map((c) => ({ op: 'del' as const, id: c.id })),
      );
  }

  /** The switchboard entity every calls panel shows. */
  switchboard(): Switchboard {
    const r = this.ua?.registration;
    const m = this.modem?.status;
    return {
      id: 'switchboard',
      order: this.order,
      noAnswerS: this.noAnswerMs / 1000,
      media: this.opts.media ?? 'terminal',
      sip: { configured: !!this.ua, state: r?.state ?? 'unregistered', detail: r?.detail.slice(0, 300) ?? '', aor: this.opts.sip?.aor ?? null },
      satellite: {
        configured: !!this.modem,
        state: m?.state ?? 'closed',
        signal: m?.signal ?? null,
        registration: m?.registration ?? 'unknown',
        busy: m?.busy ?? false,
        detail: m?.detail.slice(0, 300) ?? '',
      },
      wan: this.wan,
      bridge: { configured: !!this.bridge, up: this.bridge?.isUp ?? false, detail: this.bridgeDetail.slice(0, 300) },
    };
  }

  private publish(): void {
    this.port.replace('switchboard', [this.switchboard()]);
  }

  private contact(id: string): Contact {
    const c = this.port.get<Contact>('contacts', id);
    if (!c) throw new HubError('not_found', `no contact ${id}`);
    return c;
  }

  /** Press one key: the call starts at once and runs on its own. Resolves with its id. */
  async dial(contactId: string, by: string, consultation: string | null = null, about: string | null = null, sdp: string | null = null, session: string | null = null): Promise<string> {
    const contact = this.contact(contactId);
    const busy = [...this.live.values()].find((l) => l.call.contact === contactId && l.call.consultation === consultation);
    if (busy) throw new HubError('invalid_args', `${contact.name.zh} is already being called (${busy.call.id})`);
    const call: Call = {
      id: idOf('call', this.now()),
      contact: contactId,
      name: contact.name,
      code: contact.code,
      consultation,
      ...(about ? { about } : {}),
      by,
      state: 'dialing',
      channel: null,
      attempts: [],
      startedAt: this.now(),
      answeredAt: null,
      endedAt: null,
      duration: null,
      endedBy: null,
    };
    const live: Live = { call, cancelled: false, stop: null, sdp, answer: null, session: sdp ? session : null, sip: null };
    this.live.set(call.id, live);
    this.counters.calls++;
    await this.save(live);
    void this.run(live, contact).catch((e: Error) => console.warn(`beacon: call ${call.id} failed: ${e.message}`));
    return call.id;
  }

  private save(live: Live, final = false): Promise<unknown> {
    const call = structuredClone(live.call);
    return this.port.record(final ? 'call.logged' : 'call.updated', `call:${call.id}`, { call }, 'calls').catch((e: Error) => console.warn(`beacon: call ${call.id} not journaled: ${e.message}`));
  }

  private async run(live: Live, contact: Contact): Promise<void> {
    const sb = this.switchboard();
    const steps = planChannels(contact, { order: this.order, wan: this.wan, sip: sb.sip, satellite: sb.satellite });
    const call = live.call;
    if (!steps.length) {
      call.attempts.push({ channel: 'voip', address: '', result: 'skipped', detail: 'no_channels', startedAt: this.now(), endedAt: this.now() });
    }
    for (const step of steps) {
      if (live.cancelled) break;
      const attempt: CallAttempt = {
        channel: step.channel,
        address: step.address,
        result: step.skip ? 'skipped' : 'trying',
        detail: step.skip ?? '',
        startedAt: this.now(),
        endedAt: step.skip ? this.now() : null,
      };
      call.attempts.push(attempt);
      if (step.skip) continue;
      call.state = 'dialing';
      await this.save(live);
      const connected = step.channel === 'satellite' ? await this.trySatellite(live, attempt) : await this.trySip(live, attempt);
      if (connected) return;
    }
    call.state = live.cancelled ? 'cancelled' : 'failed';
    call.endedAt = this.now();
    call.endedBy = live.cancelled ? 'operator' : null;
    this.counters.failed++;
    this.live.delete(call.id);
    await this.save(live, true);
  }

  private async connectedUntilEnd(live: Live, attempt: CallAttempt, done: Promise<{ by: string; reason: string }>): Promise<true> {
    const call = live.call;
    call.state = 'connected';
    call.channel = attempt.channel;
    call.answeredAt = this.now();
    attempt.result = 'connected';
    this.counters.connected++;
    await this.save(live);
    const end = await done;
    const at = this.now();
    attempt.result = 'ended';
    attempt.detail = end.reason;
    attempt.endedAt = at;
    call.state = 'ended';
    call.endedAt = at;
    call.endedBy = end.by;
    call.duration = Math.round((at - call.answeredAt) / 1000);
    this.live.delete(call.id);
    for (const r of [...this.relays.values()]) if (r.call === call.id) this.dropRelay(r.id);
    await this.save(live, true);
    return true;
  }

  private async trySip(live: Live, attempt: CallAttempt): Promise<boolean> {
    const ua = this.ua!;
    const uri = attempt.channel === 'mobile' ? `sip:${attempt.address.replace(/[^\d+]/g, '')}@${this.opts.sip!.mobileDomain ?? /@([^;>]+)/.exec(this.opts.sip!.aor)![1]}` : attempt.address;
    let sip: SipCall;
    let onConnected!: (v: 'connected') => void;
    const connected = new Promise<'connected'>((r) => (onConnected = r));
    // a consultation's leg joins the bridge's mix: the far end offers, the bridge answers (RFC 3725)
    const mix = live.call.consultation ? this.mixes.get(live.call.consultation) : undefined;
    const room = mix?.state === 'mixing' ? mix.room : null;
    const contact = live.call.contact;
    const lateOffer = room ? (offer: string) => this.joinLeg(mix!.id, room, live, offer) : undefined;
    try {
      sip = ua.call(uri, {
        video: attempt.channel === 'video',
        ...(lateOffer ? { lateOffer } : live.sdp ? { offer: live.sdp } : {}),
        onUpdate: (c) => {
          if (c.phase === 'connected') {
            live.answer = c.answer;
            onConnected('connected');
          }
          if (c.phase === 'ringing' && attempt.result === 'trying') {
            attempt.result = 'ringing';
            live.call.state = 'ringing';
            void this.save(live);
          }
        },
      });
    } catch (e) {
      attempt.result = 'failed';
      attempt.detail = (e as Error).message;
      attempt.endedAt = this.now();
      return false;
    }
    let noAnswer = false;
    live.stop = () => sip.cancel();
    // Ringing without an answer for the hall's limit: give up on this channel, try the next.
    const timer = setTimeout(() => {
      if (sip.phase !== 'connected' && sip.phase !== 'ended') {
        noAnswer = true;
        sip.cancel();
      }
    }, this.noAnswerMs);
    const first = await Promise.race([connected, sip.done]);
    clearTimeout(timer);
    if (first === 'connected') {
      live.stop = () => void sip.hangup();
      live.sip = sip;
      if (live.cancelled) void sip.hangup();
      return this.connectedUntilEnd(
        live,
        attempt,
        sip.done.then(async (e) => {
          // a consultation's leg leaves the bridge (it may have joined it later, when a room was rebuilt)
          const mixId = live.call.consultation;
          if (mixId) {
            await this.bridge?.leave(live.call.id);
            if (this.mixes.get(mixId)?.members[contact]?.call === live.call.id) this.setMember(mixId, contact, { joined: false, talking: null, level: null, video: false });
          }
          return { by: e.by, reason: e.reason };
        }),
      );
    }
    const end = first;
    attempt.endedAt = this.now();
    live.stop = null;
    if (live.cancelled) {
      attempt.result = 'cancelled';
      attempt.detail = 'cancelled';
    } else if (noAnswer || end.code === 408 || end.code === 480 || end.by === 'timeout') {
      attempt.result = 'no_answer';
      attempt.detail = noAnswer ? `no_answer_after:${this.noAnswerMs / 1000}` : `${end.code ?? ''} ${end.reason}`.trim();
    } else if (end.code === 486 || end.code === 600) {
      attempt.result = 'busy';
      attempt.detail = `${end.code} ${end.reason}`;
    } else if (end.by === 'rejected') {
      attempt.result = 'rejected';
      attempt.detail = `${end.code} ${end.reason}`;
    } else {
      attempt.result = 'failed';
      attempt.detail = end.reason;
    }
    return false;
  }

  /** A consultation's SIP leg into the bridge's room: its offer in, the bridge's answer out. */
  private async joinLeg(mixId: string, room: string, live: Live, offer: string): Promise<string> {
    const contact = live.call.contact;
    const answer = await this.bridge!.joinRtp(room, live.call.id, live.call.name.zh, offer, contact);
    // who speaks: unknown until the hall's meter of the leg's voice says
    this.setMember(mixId, contact, { call: live.call.id, joined: true, talking: null, level: null, muted: false, video: this.bridge!.hasCamera(live.call.id), outside: '' });
    return answer;
  }

  /** The bridge is back: each consultation it lost gets a room again, and each connected SIP leg moves
   *  there by a re-INVITE without an offer (the far end offers, the new room answers; RFC 3725). The
   *  panels' headsets and pictures rejoin when they see the mix mixing again. A leg that cannot move is
   *  hung up, so the panel offers its redial. */
  private async rebuild(): Promise<void> {
    for (const mix of [...this.mixes.values()]) {
      const c = this.port.get<Consultation>('consultations', mix.id);
      if (mix.state !== 'bridge_down' || !c || c.endedAt !== null || !this.bridge?.isUp) continue;
      let room: string;
      try {
        room = await this.bridge.open(c.title, c.participants);
      } catch (e) {
        console.warn(`beacon: consultation ${mix.id}: the bridge is back but no room: ${(e as Error).message}`);
        continue;
      }
      const members: Record<string, MixMember> = {};
      for (const [k, m] of Object.entries(mix.members)) if (m.kind === 'contact') members[k] = { ...m, joined: false, talking: null, level: null, muted: false, video: false };
      this.putMix({ ...mix, room, state: 'mixing', detail: '', members, picture: null });
      let moved = 0;
      for (const m of Object.values(members)) {
        const live = m.call ? this.live.get(m.call) : undefined;
        if (!live?.sip || live.call.state !== 'connected') continue;
        try {
          await live.sip.rejoin((offer) => this.joinLeg(mix.id, room, live, offer));
          moved++;
        } catch (e) {
          console.warn(`beacon: consultation ${mix.id}: ${live.call.name.zh} could not move to the new room: ${(e as Error).message}; hung up for a redial`);
          live.stop?.();
        }
      }
      console.log(`beacon: consultation ${mix.id}: the bridge is back; room ${room}, ${moved} leg(s) moved`);
    }
  }

  private async trySatellite(live: Live, attempt: CallAttempt): Promise<boolean> {
    const modem = this.modem!;
    let onConnected!: (v: 'connected') => void;
    const connected = new Promise<'connected'>((r) => (onConnected = r));
    const sat = modem.dial(attempt.address.replace(/[^\d+]/g, ''), (c) => {
      if (c.phase === 'connected') onConnected('connected');
      if (c.phase === 'alerting' && attempt.result === 'trying') {
        attempt.result = 'ringing';
        live.call.state = 'ringing';
        void this.save(live);
      }
    });
    let noAnswer = false;
    live.stop = () => void sat.hangup();
    const timer = setTimeout(() => {
      if (sat.phase !== 'connected' && sat.phase !== 'ended') {
        noAnswer = true;
        void sat.hangup();
      }
    }, this.noAnswerMs);
    const first = await Promise.race([connected, sat.done]);
    clearTimeout(timer);
    if (first === 'connected') {
      if (live.cancelled) void sat.hangup();
      const mixId = live.call.consultation;
      if (mixId && this.mixes.get(mixId)?.state === 'mixing')
        this.setMember(mixId, live.call.contact, {
          call: live.call.id,
          joined: false,
          talking: null,
          muted: false,
          video: false,
          outside: 'satellite: the terminal handset carries this leg, outside the mix',
        });
      return this.connectedUntilEnd(live, attempt, sat.done);
    }
    attempt.endedAt = this.now();
    live.stop = null;
    if (live.cancelled) {
      attempt.result = 'cancelled';
      attempt.detail = 'cancelled';
    } else if (noAnswer || first.reason === 'NO ANSWER') {
      attempt.result = 'no_answer';
      attempt.detail = noAnswer ? `no_answer_after:${this.noAnswerMs / 1000}` : first.reason;
    } else if (first.reason === 'BUSY') {
      attempt.result = 'busy';
      attempt.detail = 'BUSY';
    } else {
      attempt.result = first.by === 'rejected' ? 'rejected' : 'failed';
      attempt.detail = first.reason;
    }
    return false;
  }

  /** Cancel before an answer, or hang up after: the same red button. */
  async end(callId: string): Promise<void> {
    const live = this.live.get(callId);
    if (!live) throw new HubError('not_found', `no call under way with id ${callId}`);
    live.cancelled = live.call.state !== 'connected';
    live.stop?.();
  }

  /** A consultation (会商): every participant dialled at once, each by its own best channel. */
  async consult(contacts: string[], title: string, by: string): Promise<string> {
    for (const c of contacts) this.contact(c);
    const id = idOf('consult', this.now());
    const consultation: Consultation = { id, title, by, participants: [...new Set(contacts)], legs: {}, startedAt: this.now(), endedAt: null };
    await this.openMix(id, title, consultation.participants);
    for (const c of consultation.participants) consultation.legs[c] = await this.dial(c, by, id);
    await this.port.record('consult.updated', `consult:${id}`, { consultation }, 'calls');
    return id;
  }

  /** Dial one participant again (their last leg failed or dropped). */
  async redial(consultId: string, contactId: string, by: string): Promise<string> {
    const c = this.port.get<Consultation>('consultations', consultId);
    if (!c || c.endedAt !== null) throw new HubError('not_found', `no consultation under way with id ${consultId}`);
    if (!c.participants.includes(contactId)) throw new HubError('invalid_args', `${contactId} is not in consultation ${consultId}`);
    const prior = c.legs[contactId];
    if (prior && this.live.has(prior)) throw new HubError('invalid_args', `${contactId} is still being called or connected`);
    const callId = await this.dial(contactId, by, consultId);
    await this.port.record('consult.updated', `consult:${consultId}`, { consultation: { ...c, legs: { ...c.legs, [contactId]: callId } } }, 'calls');
    return callId;
  }

  async endConsult(consultId: string): Promise<void> {
    const c = this.port.get<Consultation>('consultations', consultId);
    if (!c || c.endedAt !== null) throw new HubError('not_found', `no consultation under way with id ${consultId}`);
    for (const callId of Object.values(c.legs)) if (this.live.has(callId)) await this.end(callId);
    await this.port.record('consult.updated', `consult:${consultId}`, { consultation: { ...c, endedAt: this.now() } }, 'calls');
    const mix = this.mixes.get(consultId);
    if (mix?.room && this.bridge?.isUp) await this.bridge.close(mix.room).catch((e: Error) => console.warn(`beacon: consultation ${consultId}: the bridge did not close its room: ${e.message}`));
    this.mixes.delete(consultId);
    this.port.publish('mixes', [{ op: 'del', id: consultId }]);
  }

  /** The consultation's room in the bridge, or why there is none (the legs are then calls of their own). */
  private async openMix(id: string, title: string, contacts: string[]): Promise<void> {
    const members: Record<string, MixMember> = {};
    for (const c of contacts)
      members[c] = { kind: 'contact', name: this.contact(c).name.zh.slice(0, 64), call: null, joined: false, talking: null, level: null, muted: false, video: false, outside: '' };
    let mix: Mix = { id, room: null, state: 'no_bridge', detail: 'no conference bridge configured: each participant is a call of its own', members, picture: null };
    if (this.bridge) {
      try {
        mix = { ...mix, room: await this.bridge.open(title, contacts), state: 'mixing', detail: '' };
      } catch (e) {
        mix = { ...mix, state: 'bridge_down', detail: `conference bridge unreachable: ${(e as Error).message}; each participant is a call of its own`.slice(0, 300) };
      }
    }
    this.putMix(mix);
  }

  private putRelay(r: Relay): void {
    this.relays.set(r.id, r);
    this.port.publish('relays', [{ op: 'put', id: r.id, value: r }]);
  }

  private dropRelay(id: string): void {
    if (!this.relays.delete(id)) return;
    this.port.publish('relays', [{ op: 'del', id }]);
  }

  private putMix(mix: Mix): void {
    this.mixes.set(mix.id, mix);
    this.port.publish('mixes', [{ op: 'put', id: mix.id, value: mix }]);
  }

  private mixing(id: string): Mix {
    const mix = this.mixes.get(id);
    if (!mix) throw new HubError('not_found', `no consultation under way with id ${id}`);
    if (mix.state !== 'mixing' || !this.bridge || !mix.room) throw new HubError('unavailable', mix.detail || 'the consultation is not mixed');
    return mix;
  }

  /** A picture this display watches, by the id \`consult.watch\` gave it. */
  private watchHandle(watch: string, session: string): number {
    const h = Number(watch);
    const owner = Number.isSafeInteger(h) && this.bridge ? this.bridge.watcher(h) : null;
    if (owner === null) throw new HubError('not_found', `no picture ${watch} being watched`);
    if (owner !== session) throw new HubError('forbidden', 'a picture is answered and stopped by the display watching it');
    return h;
  }

  private member(id: string, member: string): { mix: Mix; m: MixMember } {
    const mix = this.mixing(id);
    const m = mix.members[member];
    if (!m) throw new HubError('not_found', `${member} is not in consultation ${id}`);
    return { mix, m };
  }

  private setMember(id: string, member: string, change: Partial<MixMember>): void {
    const mix = this.mixes.get(id);
    if (!mix) return;
    const prior = mix.members[member];
    if (!prior && !change.kind) return;
    // the bridge tells a room-wide change on every member's handle: publish it once
    if (prior && Object.entries(change).every(([k, v]) => prior[k as keyof MixMember] === v)) return;
    this.putMix({ ...mix, members: { ...mix.members, [member]: { ...(prior as MixMember), ...change } } });
  }

  private dropMember(id: string, member: string): void {
    const mix = this.mixes.get(id);
    if (!mix?.members[member]) return;
    const members = { ...mix.members };
    delete members[member];
    this.putMix({ ...mix, members });
  }

  /** The bridge says a member speaks, is muted, or left (a headset's page closed, the bridge lost it). */
  private onBridge(room: string, leg: string, change: { talking?: boolean; level?: number; muted?: boolean; left?: true }): void {
    const mix = [...this.mixes.values()].find((m) => m.room === room);
    if (!mix) return;
    if (leg.startsWith('picture:')) {
      if (change.left && mix.picture && `picture:${mix.picture.session}` === leg) this.putMix({ ...mix, picture: null });
      return;
    }
    const key = leg.startsWith('headset:') ? leg : Object.keys(mix.members).find((k) => mix.members[k]!.call === leg);
    if (!key) return;
    if (change.left) this.setMember(mix.id, key, { joined: false, talking: mix.members[key]!.kind === 'headset' ? false : null, level: null, video: false });
    else if (change.level !== undefined && change.talking === mix.members[key]!.talking && Object.keys(change).every((k) => k === 'level' || k === 'talking')) {
      // a level alone waits, with the mix's others, for one put every half second: the whole mix
      // goes to every display, and twelve cities' meters four times a second would flood a thin link
      this.levels.set(`${mix.id}\u0000${key}`, change.level);
      this.levelTimer ??= setTimeout(() => this.flushLevels(), 500);
    } else this.setMember(mix.id, key, change);
  }

  private flushLevels(): void {
    this.levelTimer = null;
    const byMix = new Map<string, Record<string, number>>();
    for (const [k, level] of this.levels) {
      const [mixId, member] = k.split('\u0000') as [string, string];
      byMix.set(mixId, { ...byMix.get(mixId), [member]: level });
    }
    this.levels.clear();
    for (const [mixId, levels] of byMix) {
      const mix = this.mixes.get(mixId);
      if (!mix) continue;
      const members = { ...mix.members };
      let changed = false;
      for (const [member, level] of Object.entries(levels))
        if (members[member]?.joined && members[member].level !== level) {
          members[member] = { ...members[member], level };
          changed = true;
        }
      if (changed) this.putMix({ ...mix, members });
    }
  }

  /** The call log: newest first, filtered by text (name, code, contact id), time and channel. */
  search(q: { text?: string; from?: number; to?: number; channel?: DialChannel; state?: Call['state']; before?: string; limit: number }): Call[] {
    const text = q.text?.trim().toLowerCase();
    let calls = this.port.all<Call>('calls');
    calls = calls.filter(
      (c) =>
        (!text || c.name.zh.includes(text) || c.name.en.toLowerCase().includes(text) || c.code.startsWith(text) || c.contact.toLowerCase().includes(text) || c.by.toLowerCase().includes(text)) &&
        (q.from === undefined || c.startedAt >= q.from) &&
        (q.to === undefined || c.startedAt < q.to) &&
        (!q.channel || c.attempts.some((a) => a.channel === q.channel && a.result !== 'skipped')) &&
        (!q.state || c.state === q.state),
    );
    calls.sort((a, b) => b.startedAt - a.startedAt || (b.id < a.id ? -1 : 1));
    if (q.before) {
      const i = calls.findIndex((c) => c.id === q.before);
      calls = i >= 0 ? calls.slice(i + 1) : calls;
    }
    return calls.slice(0, q.limit);
  }

  stats() {
    return {
      ...this.counters,
      live: this.live.size,
      sip: this.ua ? { ...this.ua.counters, registration: this.ua.registration.state } : null,
      satellite: this.modem ? { ...this.modem.status } : null,
      bridge: this.bridge ? { ...this.bridge.counters, up: this.bridge.isUp, mixes: this.mixes.size, levels: this.bridge.levelCounters } : null,
    };
  }

  async dispose(): Promise<void> {
    this.unsubLink?.();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.consoleTimer) clearInterval(this.consoleTimer);
    if (this.levelTimer) clearTimeout(this.levelTimer);
    for (const l of this.live.values()) {
      l.cancelled = l.call.state !== 'connected';
      l.stop?.();
    }
    await Promise.all([this.ua?.dispose(), this.modem?.dispose(), this.bridge?.dispose()]);
  }
}

export const callsDesk = defineDesk<CallsOptions>()({
  name: 'calls',
  topics: ['contacts', 'calls', 'consultations'],
  async start(port, ctx) {
    const desk = new CallDesk(port, ctx.options ?? {});
    await desk.start();
    return desk;
  },
});
