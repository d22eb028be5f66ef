// The hall's SIP user agent: registers with the platform (digest auth, refreshed before expiry) and
// places, cancels and ends calls (RFC 3261: INVITE/ACK/CANCEL/BYE, 1xx/2xx/3xx-6xx). It is ours,
// not a library's: JsSIP and SIP.js need a browser's WebRTC for every call, and the Node SIP
// packages are unmaintained. What it does not need (forking, PRACK, re-INVITE offers, incoming
// calls: the platform routes those to the hall's terminals) it answers politely and leaves alone.
//
// Media: the platform bridges the call to the hall's terminal; this UA offers plain RTP on a port
// it opens per call (sinked, counted), so the media path is visible and honest (see docs/calls.md).
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { authorize, parseChallenge, type Challenge } from './digest.ts';
import { cseqOf, header, headerAll, param, serialize, type SipMessage, type SipRequest, type SipResponse, uriOf } from './message.ts';
import { type Peer, type SipServer, SipTransport } from './transport.ts';

export interface SipAccount {
  /** Address of record, e.g. `sip:hall-330000@sip.zj.gov.cn`. */
  aor: string;
  /** Digest user name. @default the AOR's user part */
  authUser?: string;
  password: string;
  /** The platform's registrar/proxy: every request goes there. */
  server: SipServer;
  /** Registration lifetime asked for, seconds. @default 300 */
  expires?: number;
  displayName?: string;
}

export type RegState = 'unregistered' | 'registering' | 'registered' | 'failed';
export interface Registration {
  state: RegState;
  detail: string;
  /** When the binding runs out (ms since epoch), while registered. */
  expiresAt: number | null;
}

export type CallPhase = 'trying' | 'ringing' | 'connected' | 'ended';
export interface CallEnd {
  /** local: we hung up; remote: they did; cancelled: we gave up before an answer; rejected: a
   *  final error response (busy, declined, not found...); timeout: no final response at all;
   *  error: the platform could not be reached. */
  by: 'local' | 'remote' | 'cancelled' | 'rejected' | 'timeout' | 'error';
  code: number | null;
  reason: string;
}

const T1 = 500;
const T2 = 4000;
const TIMER_B = 64 * T1;
const newTag = () => randomBytes(6).toString('hex');
const newBranch = () => 'z9hG4bK' + randomBytes(9).toString('hex');

interface ClientTx {
  branch: string;
  method: string;
  text: string;
  invite: boolean;
  provisional: boolean;
  final: boolean;
  /** Retransmission and timeout timers. */
  timers: NodeJS.Timeout[];
  onResponse(res: SipResponse): void;
  onTimeout(): void;
  /** The request itself, for CANCEL and non-2xx ACK. */
  req: SipRequest;
}

export interface UaCounters {
  sent: number;
  received: number;
  retransmissions: number;
  /** Frames that were not SIP (or not valid SIP), dropped. */
  malformed: number;
  /** Valid responses that match no transaction (late retransmissions, or forged). */
  stray: number;
  registrations: number;
  authFailures: number;
}

export interface UaOptions {
  /** Registration changes, for the panel and the link state of the platform. */
  onRegistration?: (r: Registration) => void;
  /** One line per problem burst; the counters hold the totals. @default console.warn */
  log?: (line: string) => void;
  userAgent?: string;
}

export class SipUA {
  readonly account: SipAccount;
  readonly transport: SipTransport;
  readonly counters: UaCounters = { sent: 0, received: 0, retransmissions: 0, malformed: 0, stray: 0, registrations: 0, authFailures: 0 };
  registration: Registration = { state: 'unregistered', detail: '', expiresAt: null };
  private readonly txs = new Map<string, ClientTx>();
  private readonly calls = new Map<string, SipCall>();
  /** Responses we sent, by request branch, to answer a retransmitted request the same way. */
  private readonly answered = new Map<string, { text: string; at: number }>();
  private readonly user: string;
  private readonly domain: string;
  private readonly regCallId = `${randomBytes(8).toString('hex')}@beacon`;
  private readonly regTag = newTag();
  private regSeq = 0;
  private regTimer: NodeJS.Timeout | null = null;
  /** Housekeeping that may outlive its call or transaction (absorbing retransmitted finals, giving
   *  up on a platform that never answers): unref'd, and all cleared at dispose. */
  private readonly chores = new Set<NodeJS.Timeout>();
  private regFailures = 0;
  private disposed = false;
  private lastMalformedLog = 0;
  private readonly opts: UaOptions;
  private started = false;

  constructor(account: SipAccount, opts: UaOptions = {}) {
    const m = /^sips?:([^@;>]+)@([^;>]+)/.exec(account.aor);
    if (!m) throw new Error(`SIP account ${account.aor} is not sip:user@domain`);
    this.user = m[1]!;
    this.domain = m[2]!;
    this.account = account;
    this.opts = opts;
    this.transport = new SipTransport(account.server, {
      message: (msg, from) => this.onMessage(msg, from),
      malformed: (error, sample) => this.onMalformed(error, sample),
      closed: (reason) => {
        // A stream transport that drops loses the binding's connection: register again on a new one.
        if (this.started && !this.disposed && this.registration.state !== 'unregistered') {
          this.setRegistration('registering', reason);
          this.scheduleRegister(250 + Math.random() * 500);
        }
      },
    });
  }

  private log(line: string): void {
    (this.opts.log ?? ((l: string) => console.warn(l)))(`sip ${this.user}@${this.domain}: ${line}`);
  }

  private onMalformed(error: string, sample: string): void {
    this.counters.malformed++;
    // Once per burst: a flood of garbage must not flood the log too.
    const now = Date.now();
    if (now - this.lastMalformedLog > 10_000) {
      this.lastMalformedLog = now;
      this.log(`dropped a malformed message (${error}) ${JSON.stringify(sample)}; ${this.counters.malformed} so far`);
    }
  }

  /** Register and keep the registration fresh. Resolves after the first attempt, whatever its result. */
  async start(): Promise<Registration> {
    this.started = true;
    await this.register();
    return this.registration;
  }

  private setRegistration(state: RegState, detail: string, expiresAt: number | null = null): void {
    const changed = state !== this.registration.state || detail !== this.registration.detail;
    this.registration = { state, detail, expiresAt };
    if (changed) this.opts.onRegistration?.(this.registration);
  }

  private scheduleRegister(ms: number): void {
    if (this.regTimer) clearTimeout(this.regTimer);
    if (this.disposed) return;
    this.regTimer = setTimeout(() => void this.register(), ms);
  }

  private get contactUri(): string {
    const l = this.transport.local;
    const t = this.account.server.transport;
    return `sip:${this.user}@${l.host.includes(':') ? `[${l.host}]` : l.host}${l.port ? `:${l.port}` : ''}${t === 'udp' ? '' : `;transport=${t}`}`;
  }

  private async register(expires = this.account.expires ?? 300): Promise<void> {
    if (this.disposed && expires !== 0) return;
    if (expires) this.setRegistration('registering', this.registration.detail);
    try {
      await this.transport.open();
    } catch (e) {
      return this.registerFailed(`platform unreachable: ${(e as Error).message}`);
    }
    const res = await this.requestWithAuth(
      () =>
        this.buildRequest('REGISTER', `sip:${this.domain}`, {
          callId: this.regCallId,
          from: this.aorHeader(this.regTag),
          to: this.aorHeader(),
          seq: ++this.regSeq,
          extra: [
            ['contact', `<${this.contactUri}>;expires=${expires}`],
            ['expires', String(expires)],
          ],
        }),
      () => ++this.regSeq,
    );
    if (expires === 0) return;
    if (!res) return this.registerFailed('no answer from the registrar');
    if (res.status >= 200 && res.status < 300) {
      // The registrar may shorten the lifetime: honour what it granted.
      const ours = headerAll(res, 'contact').find((c) => uriOf(c) === this.contactUri) ?? headerAll(res, 'contact')[0];
      const granted = Number(param(ours, 'expires') ?? header(res, 'expires') ?? expires) || expires;
      this.counters.registrations++;
      this.regFailures = 0;
      this.setRegistration('registered', `${res.status} ${res.reason}`.trim(), Date.now() + granted * 1000);
      // Refresh well before it runs out, leaving room for a retransmission or two.
      this.scheduleRegister(Math.max(500, (granted - Math.min(granted / 2, 30)) * 1000));
      return;
    }
    if (res.status === 401 || res.status === 407 || res.status === 403) this.counters.authFailures++;
    this.registerFailed(`${res.status} ${res.reason}`.trim());
  }

  private registerFailed(detail: string): void {
    this.regFailures++;
    this.setRegistration('failed', detail);
    // Exponential backoff with jitter (so a hall of consoles does not hammer a platform that
    // just came back), capped at a minute.
    const base = Math.min(60_000, 1000 * 2 ** Math.min(this.regFailures - 1, 6));
    this.scheduleRegister(base / 2 + (Math.random() * base) / 2);
  }

  private aorHeader(tag?: string): string {
    const name = this.account.displayName ? `"${this.account.displayName.replace(/"/g, '')}" ` : '';
    return `${name}<sip:${this.user}@${this.domain}>${tag ? `;tag=${tag}` : ''}`;
  }

  buildRequest(method: string, uri: string, o: { callId: string; from: string; to: string; seq: number; branch?: string; extra?: [string, string][]; body?: string; route?: string[] }): SipRequest {
    const l = this.transport.local;
    const headers: [string, string][] = [
      ['via', `SIP/2.0/${this.transport.via} ${l.host.includes(':') ? `[${l.host}]` : l.host}${l.port ? `:${l.port}` : ''};branch=${o.branch ?? newBranch()};rport`],
      ['max-forwards', '70'],
      ...(o.route ?? []).map((r): [string, string] => ['route', r]),
      ['from', o.from],
      ['to', o.to],
      ['call-id', o.callId],
      ['cseq', `${o.seq} ${method}`],
      ['user-agent', this.opts.userAgent ?? 'Beacon/0.1'],
      ...(o.extra ?? []),
    ];
    return { kind: 'request', method, uri, headers, body: o.body ?? '' };
  }

  /** Send a request; on a 401/407 answer once with credentials (a second challenge for the same
   *  request means the password is wrong). Resolves with the final response, or null on timeout. */
  requestWithAuth(build: () => SipRequest, nextSeq: () => number, onProvisional?: (r: SipResponse, tx: ClientTx) => void, onTx?: (tx: ClientTx) => void): Promise<SipResponse | null> {
    return new Promise((resolve) => {
      let tries = 0;
      let nc = 0;
      const attempt = (req: SipRequest) => {
        const tx = this.sendRequest(
          req,
          (res) => {
            if (res.status < 200) return onProvisional?.(res, tx);
            const auth = res.status === 401 ? header(res, 'www-authenticate') : res.status === 407 ? header(res, 'proxy-authenticate') : undefined;
            const ch: Challenge | null = auth ? parseChallenge(auth) : null;
            if (ch && (tries === 0 || ch.stale)) {
              tries++;
              const again = build();
              // Same Call-ID and tags, next CSeq, a new branch (a new transaction).
              again.headers = again.headers.map(([k, v]): [string, string] => (k === 'cseq' ? ['cseq', `${nextSeq()} ${again.method}`] : [k, v]));
              again.headers.push([
                res.status === 401 ? 'authorization' : 'proxy-authorization',
                authorize(ch, { user: this.account.authUser ?? this.user, password: this.account.password, method: again.method, uri: again.uri, nc: ++nc }),
              ]);
              return attempt(again);
            }
            resolve(res);
          },
          () => resolve(null),
        );
        onTx?.(tx);
      };
      attempt(build());
    });
  }

  /** A client transaction (RFC 3261 §17.1): retransmitted over UDP, timed out after 32 s. */
  sendRequest(req: SipRequest, onResponse: (r: SipResponse) => void, onTimeout: () => void): ClientTx {
    const branch = param(header(req, 'via'), 'branch')!;
    const text = serialize(req);
    const tx: ClientTx = { branch, method: req.method, text, invite: req.method === 'INVITE', provisional: false, final: false, timers: [], onResponse, onTimeout, req };
    this.txs.set(branch + req.method, tx);
    const send = () => {
      this.counters.sent++;
      this.transport.send(text).catch((e: Error) => {
        if (!tx.final) {
          this.finishTx(tx);
          this.log(`${req.method} not sent: ${e.message}`);
          onTimeout();
        }
      });
    };
    send();
    if (!this.transport.reliable) {
      let interval = T1;
      const retransmit = () => {
        if (tx.final || (tx.invite && tx.provisional)) return;
        this.counters.retransmissions++;
        send();
        interval = tx.invite ? interval * 2 : Math.min(interval * 2, T2);
        tx.timers.push(setTimeout(retransmit, interval));
      };
      tx.timers.push(setTimeout(retransmit, interval));
    }
    // Timer B/F. An INVITE that got a provisional waits for the TU (the call's no-answer timer).
    tx.timers.push(
      setTimeout(() => {
        if (tx.final || (tx.invite && tx.provisional)) return;
        this.finishTx(tx);
        onTimeout();
      }, TIMER_B),
    );
    return tx;
  }

  private finishTx(tx: ClientTx): void {
    tx.final = true;
    for (const t of tx.timers) clearTimeout(t);
    tx.timers = [];
    // Kept a while to absorb retransmitted finals (and re-ACK them) without counting them stray.
    this.later(() => this.txs.delete(tx.branch + tx.method), this.transport.reliable ? 0 : TIMER_B);
  }

  private onMessage(msg: SipMessage, from: Peer): void {
    this.counters.received++;
    if (msg.kind === 'response') return this.onResponse(msg);
    this.onRequest(msg, from);
  }

  private onResponse(res: SipResponse): void {
    const branch = param(header(res, 'via'), 'branch') ?? '';
    const { method } = cseqOf(res);
    const tx = this.txs.get(branch + method);
    if (!tx) {
      // A retransmitted 2xx to an INVITE whose transaction is over: the call ACKs it again.
      if (method === 'INVITE' && res.status >= 200 && res.status < 300) {
        const call = this.calls.get(header(res, 'call-id')!);
        if (call) return call.onRetransmitted2xx(res);
      }
      this.counters.stray++;
      return;
    }
    if (tx.final) {
      // Retransmitted final to an INVITE: answer with the same ACK (non-2xx) or let the call do it.
      if (tx.invite && res.status >= 300) this.ackNon2xx(tx, res);
      else if (tx.invite && res.status >= 200) this.calls.get(header(res, 'call-id')!)?.onRetransmitted2xx(res);
      return;
    }
    if (res.status < 200) {
      tx.provisional = true;
      return tx.onResponse(res);
    }
    this.finishTx(tx);
    if (tx.invite && res.status >= 300) this.ackNon2xx(tx, res);
    tx.onResponse(res);
  }

  /** ACK for a non-2xx final (§17.1.1.3): same branch, the response's To tag, hop by hop. */
  private ackNon2xx(tx: ClientTx, res: SipResponse): void {
    const r = tx.req;
    const ack: SipRequest = {
      kind: 'request',
      method: 'ACK',
      uri: r.uri,
      headers: [
        ['via', header(r, 'via')!],
        ['max-forwards', '70'],
        ...r.headers.filter(([k]) => k === 'route'),
        ['from', header(r, 'from')!],
        ['to', header(res, 'to')!],
        ['call-id', header(r, 'call-id')!],
        ['cseq', `${cseqOf(r).seq} ACK`],
      ],
      body: '',
    };
    this.counters.sent++;
    this.transport.send(serialize(ack)).catch(() => undefined);
  }

  private respond(req: SipRequest, from: Peer, status: number, reason: string, extra: [string, string][] = [], body = ''): void {
    const headers: [string, string][] = [
      ...req.headers.filter(([k]) => k === 'via' || k === 'record-route'),
      ['from', header(req, 'from')!],
      [
        'to',
        (() => {
          const to = header(req, 'to')!;
          return param(to, 'tag') || status === 100 ? to : `${to};tag=${newTag()}`;
        })(),
      ],
      ['call-id', header(req, 'call-id')!],
      ['cseq', header(req, 'cseq')!],
      ...extra,
    ];
    const text = serialize({ kind: 'response', status, reason, headers, body });
    const branch = param(header(req, 'via'), 'branch');
    if (branch) this.answered.set(branch + req.method, { text, at: Date.now() });
    this.counters.sent++;
    // Responses go where the request came from (§18.2.2 with rport): over a stream, the same connection.
    this.transport.send(text, this.transport.reliable ? undefined : from).catch(() => undefined);
  }

  private onRequest(req: SipRequest, from: Peer): void {
    const branch = param(header(req, 'via'), 'branch');
    // A retransmitted request gets the answer it got the first time (§17.2).
    const prior = branch ? this.answered.get(branch + req.method) : undefined;
    if (prior) {
      this.transport.send(prior.text, this.transport.reliable ? undefined : from).catch(() => undefined);
      return;
    }
    this.pruneAnswered();
    const call = this.calls.get(header(req, 'call-id')!);
    switch (req.method) {
      case 'ACK':
        return;
      case 'BYE':
        if (!call || !call.matches(req)) return this.respond(req, from, 481, 'Call/Transaction Does Not Exist');
        this.respond(req, from, 200, 'OK');
        return call.onRemoteBye(req);
      case 'OPTIONS':
        return this.respond(req, from, 200, 'OK', [['allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS']]);
      case 'INVITE':
        // A session refresh inside our call: keep the media as it is.
        if (call && call.matches(req))
          return this.respond(
            req,
            from,
            200,
            'OK',
            [
              ['contact', `<${this.contactUri}>`],
              ['content-type', 'application/sdp'],
            ],
            call.localSdp,
          );
        // Calls into the hall reach its terminals through the platform, not this UA.
        return this.respond(req, from, 480, 'Temporarily Unavailable');
      case 'CANCEL':
        return this.respond(req, from, 481, 'Call/Transaction Does Not Exist');
      case 'NOTIFY':
      case 'INFO':
      case 'UPDATE':
        return this.respond(req, from, call ? 200 : 481, call ? 'OK' : 'Call/Transaction Does Not Exist');
      default:
        return this.respond(req, from, 501, 'Not Implemented', [['allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS']]);
    }
  }

  private pruneAnswered(): void {
    if (this.answered.size < 256) return;
    const cutoff = Date.now() - TIMER_B;
    for (const [k, v] of this.answered) if (v.at < cutoff) this.answered.delete(k);
  }

  /** Place a call to `target` (a SIP URI). Progress and the end come through the call's callbacks. */
  /** `offer`: the session description of the display that carries the media (its WebRTC offer;
   *  the platform's border controller turns it into plain RTP for the far end, issue 22); without
   *  one this UA offers a port of its own that only counts what arrives. */
  call(target: string, o: { video?: boolean; offer?: string; lateOffer?: LateOffer; onUpdate?: (c: SipCall) => void } = {}): SipCall {
    if (this.disposed) throw new Error('SIP user agent is closed');
    const call = new SipCall(this, target, o.video ?? false, o.onUpdate ?? (() => undefined), o.offer, o.lateOffer);
    this.calls.set(call.callId, call);
    void call.begin().finally(() => this.later(() => this.calls.delete(call.callId), TIMER_B));
    return call;
  }

  get activeCalls(): number {
    return [...this.calls.values()].filter((c) => c.phase !== 'ended').length;
  }

  /** For SipCall: the UA's identity and transport. */
  get identity() {
    return { user: this.user, domain: this.domain, from: (tag: string) => this.aorHeader(tag), contact: () => this.contactUri };
  }

  /** @internal Run `fn` after `ms` unless the UA is disposed first. */
  later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.chores.delete(t);
      fn();
    }, ms);
    t.unref();
    this.chores.add(t);
  }

  /** Unregister (best effort, a second at most), end every call and close the transport. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.regTimer) clearTimeout(this.regTimer);
    await Promise.all([...this.calls.values()].map((c) => c.hangup()));
    if (this.registration.state === 'registered') {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.register(0), new Promise((r) => (t = setTimeout(r, 1000)))]);
      clearTimeout(t);
    }
    for (const tx of this.txs.values()) for (const t of tx.timers) clearTimeout(t);
    this.txs.clear();
    for (const t of this.chores) clearTimeout(t);
    this.chores.clear();
    this.transport.close();
    this.setRegistration('unregistered', 'closed');
  }
}

/** Third-party call control (RFC 3725 flow I): the INVITE goes without a session description, the far
 *  end offers in its 2xx, and this answers it (the conference bridge's port) for the ACK. */
export type LateOffer = (offer: string) => Promise<string>;

/** One outgoing call: INVITE, its provisional and final answers, CANCEL, ACK, BYE (either side). */
export class SipCall {
  readonly target: string;
  readonly callId = `${randomBytes(10).toString('hex')}@beacon`;
  phase: CallPhase = 'trying';
  /** The last provisional or final status seen, e.g. 180 Ringing, 486 Busy Here. */
  status: { code: number; reason: string } | null = null;
  end: CallEnd | null = null;
  answeredAt: number | null = null;
  /** RTP packets received from the far end: the media path is really there. */
  rtpPackets = 0;
  offer = '';
  /** The far end's session description from its 2xx (for the display that made the offer). */
  answer: string | null = null;
  private readonly ownOffer: boolean;
  private readonly lateOffer: LateOffer | null;
  private readonly ua: SipUA;
  private readonly video: boolean;
  private readonly onUpdate: (c: SipCall) => void;
  private readonly localTag = newTag();
  private remoteTag: string | null = null;
  private remoteTarget: string;
  private routeSet: string[] = [];
  private seq = 1;
  private inviteTx: ClientTx | null = null;
  private ack: string | null = null;
  private cancelWanted = false;
  private cancelSent = false;
  private rtp: UdpSocket | null = null;
  private finished!: (e: CallEnd) => void;
  readonly done: Promise<CallEnd>;

  constructor(ua: SipUA, target: string, video: boolean, onUpdate: (c: SipCall) => void, offer?: string, lateOffer?: LateOffer) {
    this.ua = ua;
    this.lateOffer = lateOffer ?? null;
    this.ownOffer = !offer && !lateOffer;
    if (offer) this.offer = `${offer.replace(/\r?\n/g, '\r\n').replace(/(\r\n)+$/, '')}\r\n`;
    this.target = target;
    this.remoteTarget = target;
    this.video = video;
    this.onUpdate = onUpdate;
    this.done = new Promise((r) => (this.finished = r));
  }

  /** Our side of the session as the far end knows it: our offer, or our late answer. */
  get localSdp(): string {
    return this.lateOffer ? (this.answer ?? '') : this.offer;
  }

  private update(): void {
    try {
      this.onUpdate(this);
    } catch (e) {
      console.warn(`sip call update handler failed: ${(e as Error).message}`);
    }
  }

  private finish(end: CallEnd): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.end = end;
    this.rtp?.close();
    this.rtp = null;
    this.update();
    this.finished(end);
  }

  async begin(): Promise<CallEnd> {
    try {
      await this.ua.transport.open();
      if (this.ownOffer) await this.openRtp();
    } catch (e) {
      this.finish({ by: 'error', code: null, reason: `platform unreachable: ${(e as Error).message}` });
      return this.done;
    }
    const res = await this.ua.requestWithAuth(
      () =>
        this.ua.buildRequest('INVITE', this.target, {
          callId: this.callId,
          from: this.ua.identity.from(this.localTag),
          to: `<${this.target}>`,
          seq: this.seq,
          extra: [
            ['contact', `<${this.ua.identity.contact()}>`],
            ['allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS'],
            ...(this.lateOffer ? [] : ([['content-type', 'application/sdp']] as [string, string][])),
          ],
          body: this.lateOffer ? '' : this.offer,
        }),
      () => ++this.seq,
      (r) => this.onProvisional(r),
      (tx) => {
        this.inviteTx = tx;
        // An operator who cancelled during the auth round trip has cancelled this one too.
        if (this.cancelWanted && tx.provisional) this.sendCancel();
      },
    );
    if (!res) {
      this.finish(this.cancelWanted ? { by: 'cancelled', code: null, reason: 'cancelled' } : { by: 'timeout', code: null, reason: 'no answer from the platform' });
      return this.done;
    }
    this.status = { code: res.status, reason: res.reason };
    if (res.status >= 200 && res.status < 300) {
      let refused: string | null = null;
      if (this.lateOffer) {
        // the far end offered in its 2xx: the ACK must carry our answer
        this.offer = res.body;
        try {
          if (!res.body) throw new Error('the far end answered without an offer');
          this.answer = await this.lateOffer(res.body);
        } catch (e) {
          refused = (e as Error).message;
        }
        this.confirm(res, refused ? undefined : (this.answer ?? undefined));
      } else {
        this.answer = res.body || null;
        this.confirm(res);
      }
      if (refused) {
        await this.bye();
        this.finish({ by: 'error', code: res.status, reason: refused });
        return this.done;
      }
      if (this.cancelWanted) {
        // The answer crossed our CANCEL: take the call and end it at once (§9.1).
        await this.bye();
        this.finish({ by: 'cancelled', code: res.status, reason: 'answered as we cancelled' });
      } else {
        this.phase = 'connected';
        this.answeredAt = Date.now();
        this.update();
      }
      return this.done;
    }
    if (res.status === 487 && this.cancelWanted) this.finish({ by: 'cancelled', code: 487, reason: res.reason });
    else this.finish({ by: 'rejected', code: res.status, reason: res.reason });
    return this.done;
  }

  private async openRtp(): Promise<void> {
    const host = this.ua.transport.local.host.endsWith('.invalid') ? '127.0.0.1' : this.ua.transport.local.host;
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.bind(0, host, () => res());
    });
    s.on('message', () => this.rtpPackets++);
    s.on('error', () => undefined);
    this.rtp = s;
    const port = s.address().port;
    const ip = host.includes(':') ? 'IP6' : 'IP4';
    const sess = Date.now();
    this.offer = [
      'v=0',
      `o=beacon ${sess} ${sess} IN ${ip} ${host}`,
      's=Beacon',
      `c=IN ${ip} ${host}`,
      't=0 0',
      `m=audio ${port} RTP/AVP 0 8 101`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-15',
      'a=sendrecv',
      ...(this.video ? [`m=video ${port + 2} RTP/AVP 96`, 'a=rtpmap:96 H264/90000', 'a=sendrecv'] : []),
      '',
    ].join('\r\n');
  }

  private onProvisional(r: SipResponse): void {
    this.status = { code: r.status, reason: r.reason };
    if (this.cancelWanted && !this.cancelSent) this.sendCancel();
    if (r.status >= 180 && this.phase === 'trying') this.phase = 'ringing';
    this.update();
  }

  /** Dialog from the 2xx (§12.1.2), then the ACK (a new transaction, end to end). */
  private confirm(res: SipResponse, answer?: string): void {
    this.remoteTag = param(header(res, 'to'), 'tag') ?? null;
    const contact = header(res, 'contact');
    if (contact) this.remoteTarget = uriOf(contact);
    this.routeSet = headerAll(res, 'record-route').reverse();
    this.sendAck(res, answer);
  }

  /** The ACK to a 2xx (a new transaction, end to end), kept to answer its retransmissions. */
  private sendAck(res: SipResponse, answer?: string): void {
    const ack = this.ua.buildRequest('ACK', this.remoteTarget, {
      callId: this.callId,
      from: this.ua.identity.from(this.localTag),
      to: `${header(res, 'to')}`,
      seq: cseqOf(res).seq,
      route: this.routeSet,
      ...(answer ? { extra: [['content-type', 'application/sdp']] as [string, string][], body: answer } : {}),
    });
    this.ack = serialize(ack);
    this.ua.counters.sent++;
    this.ua.transport.send(this.ack).catch(() => undefined);
  }

  onRetransmitted2xx(_res: SipResponse): void {
    if (this.ack) this.ua.transport.send(this.ack).catch(() => undefined);
  }

  /** An in-dialog request for this call (From/To tags match ours, swapped). */
  matches(req: SipRequest): boolean {
    return param(header(req, 'to'), 'tag') === this.localTag && (this.remoteTag === null || param(header(req, 'from'), 'tag') === this.remoteTag);
  }

  onRemoteBye(_req: SipRequest): void {
    this.finish({ by: 'remote', code: null, reason: 'hung up by the other side' });
  }

  private sendCancel(): void {
    const tx = this.inviteTx;
    if (!tx || this.cancelSent) return;
    this.cancelSent = true;
    const r = tx.req;
    // CANCEL is hop by hop: the INVITE's Via (branch), R-URI, Call-ID, From, To and CSeq number (§9.1).
    const cancel: SipRequest = {
      kind: 'request',
      method: 'CANCEL',
      uri: r.uri,
      headers: [
        ['via', header(r, 'via')!],
        ['max-forwards', '70'],
        ...r.headers.filter(([k]) => k === 'route'),
        ['from', header(r, 'from')!],
        ['to', header(r, 'to')!],
        ['call-id', this.callId],
        ['cseq', `${cseqOf(r).seq} CANCEL`],
      ],
      body: '',
    };
    this.ua.sendRequest(
      cancel,
      () => undefined,
      () => undefined,
    );
    // A platform that never sends the 487 must not keep the operator waiting.
    this.ua.later(() => this.finish({ by: 'cancelled', code: null, reason: 'cancelled (no 487 from the platform)' }), 4000);
  }

  /** Give up before an answer. Safe in any phase. */
  cancel(): void {
    if (this.phase === 'ended') return;
    if (this.phase === 'connected') {
      void this.hangup();
      return;
    }
    this.cancelWanted = true;
    // CANCEL may only follow a provisional response (§9.1); until one arrives, we wait for it.
    if (this.inviteTx?.provisional) this.sendCancel();
  }

  /** An INVITE inside the call, with an offer or without one; resolves with its 2xx (not yet ACKed),
   *  rejects on a refusal or no answer (the call goes on as it was). */
  private async inDialogInvite(body: string): Promise<SipResponse> {
    if (this.phase !== 'connected') throw new Error('the call is not connected');
    ++this.seq;
    const res = await this.ua.requestWithAuth(
      () =>
        this.ua.buildRequest('INVITE', this.remoteTarget, {
          callId: this.callId,
          from: this.ua.identity.from(this.localTag),
          to: `<${this.target}>${this.remoteTag ? `;tag=${this.remoteTag}` : ''}`,
          seq: this.seq,
          route: this.routeSet,
          extra: [['contact', `<${this.ua.identity.contact()}>`], ...(body ? ([['content-type', 'application/sdp']] as [string, string][]) : [])],
          body,
        }),
      () => ++this.seq,
    );
    if (!res) throw new Error('no answer to the re-INVITE');
    if (res.status < 200 || res.status >= 300) throw new Error(`the far end refused: ${res.status} ${res.reason}`);
    return res;
  }

  /** A new offer inside the call (RFC 3261 §14): hold (a=sendonly) and resume (sendrecv). Resolves
   *  with the far end's answer; rejects with its refusal (the call goes on as it was). */
  async reinvite(offer: string): Promise<string> {
    const body = `${offer.replace(/\r?\n/g, '\r\n').replace(/(\r\n)+$/, '')}\r\n`;
    const res = await this.inDialogInvite(body);
    this.sendAck(res);
    if (!this.lateOffer) this.offer = body;
    this.answer = res.body || null;
    if (!this.answer) throw new Error('the far end answered without a session description');
    return this.answer;
  }

  /** A re-INVITE without an offer (RFC 3261 §14, RFC 3725): the far end offers in its 2xx, `answerTo`
   *  gives the answer that goes in the ACK. A consultation's leg moves to a rebuilt bridge room so. If
   *  no answer can be given, the ACK goes without one and this rejects (the caller hangs up). */
  async rejoin(answerTo: (offer: string) => Promise<string>): Promise<string> {
    const res = await this.inDialogInvite('');
    let answer: string;
    try {
      if (!res.body) throw new Error('the far end answered without an offer');
      answer = await answerTo(res.body);
    } catch (e) {
      this.sendAck(res);
      throw e;
    }
    this.sendAck(res, answer);
    this.offer = res.body;
    this.answer = answer;
    return answer;
  }

  private async bye(): Promise<void> {
    const req = this.ua.buildRequest('BYE', this.remoteTarget, {
      callId: this.callId,
      from: this.ua.identity.from(this.localTag),
      to: `<${this.target}>${this.remoteTag ? `;tag=${this.remoteTag}` : ''}`,
      seq: ++this.seq,
      route: this.routeSet,
    });
    await new Promise<void>((resolve) => {
      this.ua.sendRequest(
        req,
        () => resolve(),
        () => resolve(),
      );
      this.ua.later(resolve, 4000);
    });
  }

  /** End the call from our side: BYE when connected, CANCEL before. */
  async hangup(): Promise<CallEnd> {
    if (this.phase === 'connected') {
      const bye = this.bye();
      this.finish({ by: 'local', code: null, reason: 'hung up' });
      await bye;
    } else this.cancel();
    return this.done;
  }
}
