// Hub behaviour over an in-memory connection (the real WebSocket path is in tests/integration).
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CLIENT_FRAME_BYTES, type ServerMessage } from '../../common/contract.ts';
import { CLOSE, type Connection, Hub, HubError } from '../../main/core/hub/hub.ts';

class MemConn implements Connection {
  readonly origin = 'test';
  out: ServerMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  bufferedBytes = 0;
  send(text: string) {
    this.out.push(JSON.parse(text) as ServerMessage);
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
  }
  buffered() {
    return this.bufferedBytes;
  }
  of<T extends ServerMessage['t']>(t: T): Extract<ServerMessage, { t: T }>[] {
    return this.out.filter((m) => m.t === t) as Extract<ServerMessage, { t: T }>[];
  }
}

const hubs: Hub[] = [];
function setup(opts = {}) {
  const hub = new Hub({ tickMs: 5, ...opts });
  hubs.push(hub);
  const conn = new MemConn();
  const s = hub.connect(conn, { kind: 'local', name: 'test' });
  s.receive(JSON.stringify({ t: 'hello', v: 1, client: 'test' }));
  return { hub, conn, s };
}
const sub = (topic: string, since?: object) => JSON.stringify(since ? { t: 'sub', topic, since } : { t: 'sub', topic });
const tick = () => new Promise((r) => setTimeout(r, 20));

describe('hub', () => {
  afterEach(() => hubs.splice(0).forEach((h) => h.dispose()));

  it('serves a snapshot, then ordered deltas with consecutive sequence numbers', async () => {
    const { hub, conn, s } = setup();
    hub.replace('units', [{ id: 'a' }, { id: 'b' }]);
    hub.flush();
    s.receive(sub('units'));
    const snap = conn.of('snapshot')[0]!;
    expect(snap.seq).toBe(1);
    expect(snap.items).toHaveLength(2);
    hub.publish('units', [{ op: 'put', id: 'c', value: { id: 'c' } }]);
    await tick();
    hub.publish('units', [{ op: 'del', id: 'a' }]);
    await tick();
    expect(conn.of('delta').map((d) => d.seq)).toEqual([2, 3]);
    expect(
      hub
        .items('units')
        .map((x) => (x as { id: string }).id)
        .sort(),
    ).toEqual(['b', 'c']);
  });

  it('batches a tick of changes into one message per topic, last write per id winning', async () => {
    const { hub, conn, s } = setup();
    s.receive(sub('units'));
    for (let i = 0; i < 1000; i++) hub.publish('units', [{ op: 'put', id: `u${i % 100}`, value: { id: `u${i % 100}`, n: i } }]);
    await tick();
    const deltas = conn.of('delta');
    expect(deltas).toHaveLength(1);
    expect(deltas[0]!.ops).toHaveLength(100);
    expect((deltas[0]!.ops.find((o) => o.id === 'u7') as { value: { n: number } }).value.n).toBe(907);
  });

  it("sends a tick's changes in the order of the topic's snapshot, not as they arrived, with new entities last", async () => {
    const { hub, conn, s } = setup();
    hub.replace(
      'units',
      Array.from({ length: 50 }, (_, i) => ({ id: `u${i}`, n: 0 })),
    );
    hub.flush();
    s.receive(sub('units'));
    const held = conn.of('snapshot')[0]!.items.map((x) => (x as { id: string }).id);
    // reports arrive scattered; two new units and a removal among them
    const arrival = [37, 2, 49, 11, 0, 23, 8, 41, 16, 30];
    for (const i of arrival) hub.publish('units', [{ op: 'put', id: `u${i}`, value: { id: `u${i}`, n: 1, lat: 28 + i / 100 } }]);
    hub.publish('units', [{ op: 'put', id: 'new-b', value: { id: 'new-b', n: 1 } }]);
    hub.publish('units', [{ op: 'del', id: 'u20' }]);
    hub.publish('units', [{ op: 'put', id: 'new-a', value: { id: 'new-a', n: 1 } }]);
    hub.flush();
    const ids = conn.of('delta')[0]!.ops.map((o) => o.id);
    const known = [...arrival.map((i) => `u${i}`), 'u20'].sort((a, b) => held.indexOf(a) - held.indexOf(b));
    expect(ids).toEqual([...known, 'new-b', 'new-a']);
    // the snapshot a display takes now is in the same order as the next delta
    hub.publish('units', [
      { op: 'put', id: 'new-a', value: { id: 'new-a', n: 2 } },
      { op: 'put', id: 'u1', value: { id: 'u1', n: 2 } },
      { op: 'put', id: 'new-b', value: { id: 'new-b', n: 2 } },
    ]);
    hub.flush();
    const order = hub.items('units').map((x) => (x as { id: string }).id);
    expect(order.slice(-2)).toEqual(['new-b', 'new-a']);
    expect(conn.of('delta')[1]!.ops.map((o) => o.id)).toEqual(['u1', 'new-b', 'new-a']);
  });

  it('resumes a client from its sequence number with exactly the deltas it missed', async () => {
    const { hub, conn, s } = setup();
    s.receive(sub('units'));
    for (let i = 0; i < 5; i++) {
      hub.publish('units', [{ op: 'put', id: `u${i}`, value: { id: `u${i}` } }]);
      hub.flush();
    }
    const second = new MemConn();
    const s2 = hub.connect(second, { kind: 'local', name: 'test' });
    s2.receive(JSON.stringify({ t: 'hello', v: 1, client: 'again' }));
    s2.receive(sub('units', { epoch: hub.epoch, seq: 2 }));
    expect(second.of('snapshot')).toHaveLength(0);
    expect(second.of('delta').map((d) => d.seq)).toEqual([3, 4, 5]);
    const third = new MemConn();
    const s3 = hub.connect(third, { kind: 'local', name: 'test' });
    s3.receive(JSON.stringify({ t: 'hello', v: 1, client: 'current' }));
    s3.receive(sub('units', { epoch: hub.epoch, seq: 5 }));
    expect(third.of('current')).toEqual([{ t: 'current', topic: 'units', epoch: hub.epoch, seq: 5 }]);
    expect(conn.of('delta')).toHaveLength(5);
  });

  it('sends a snapshot when the history no longer reaches back, or the epoch is another hall run', () => {
    const { hub, conn, s } = setup({ historyLimit: 3 });
    for (let i = 0; i < 10; i++) {
      hub.publish('units', [{ op: 'put', id: `u${i}`, value: { id: `u${i}` } }]);
      hub.flush();
    }
    s.receive(sub('units', { epoch: hub.epoch, seq: 2 }));
    expect(conn.of('snapshot')[0]).toMatchObject({ seq: 10 });
    s.receive(sub('places', { epoch: 'another-run', seq: 0 }));
    expect(conn.of('snapshot')[1]).toMatchObject({ topic: 'places', seq: 0 });
  });

  it('answers bad frames with a clear error and a counter, and keeps the connection', () => {
    const { hub, conn, s } = setup();
    const cases: [string, string][] = [
      ['not json', 'bad_frame'],
      ['[1,2]', 'bad_frame'],
      [JSON.stringify({ t: 'sub', topic: 'nope' }), 'bad_message'],
      [JSON.stringify({ t: 'sub', topic: 42 }), 'bad_message'],
      [JSON.stringify({ t: 'launch-missiles' }), 'bad_message'],
      [JSON.stringify({ t: 'sub', topic: 'units', extra: 1 }), 'bad_message'],
      ['x'.repeat(MAX_CLIENT_FRAME_BYTES + 1), 'too_large'],
    ];
    for (const [frame, code] of cases) {
      conn.out = [];
      s.receive(frame);
      expect(conn.of('error')[0]?.error.code, frame.slice(0, 40)).toBe(code);
    }
    expect(conn.closed).toBeNull();
    expect(hub.stats().errors).toMatchObject({ bad_frame: 2, bad_message: 4, too_large: 1 });
    expect(conn.of('error')[0]!.error.message).toMatch(/exceeds/);
  });

  it('takes a frame over 64 KiB only from the commands that carry evidence (a photo, an attachment), up to 3 MiB', async () => {
    const { hub, conn, s } = setup();
    const ran: string[] = [];
    hub.onCommand(async (name) => {
      ran.push(name);
      return { event: 1 };
    });
    const photo = `data:image/jpeg;base64,${'A'.repeat(150 * 1024)}`;
    // a sheet's feedback with a 150 KB photo: read and run
    s.receive(JSON.stringify({ t: 'cmd', id: 'f1', name: 'sheet.feedback', args: { id: '330000-abcd', measure: 'm1', status: 'done', text: '', photo } }));
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toEqual(['sheet.feedback']);
    // the same size under another command's name, or claiming to be one and not: refused, nothing run
    s.receive(JSON.stringify({ t: 'cmd', id: 'f2', name: 'incident.report', args: { title: photo } }));
    s.receive(`{"t":"cmd","id":"f3","name":"sheet.feedback"${' '.repeat(70 * 1024)}}`);
    expect(conn.of('error').map((e) => e.error.code)).toEqual(['too_large', 'bad_message']);
    // evidence over 3 MiB: the command is answered (its display is not left waiting)
    s.receive(JSON.stringify({ t: 'cmd', id: 'f4', name: 'sheet.feedback', args: { photo: 'A'.repeat(3 * 1024 * 1024) } }));
    expect(conn.of('result').find((r) => r.id === 'f4')).toMatchObject({ ok: false, error: { code: 'too_large' } });
    expect(ran).toEqual(['sheet.feedback']);
  });

  it('rejects unknown commands and wrong argument types with typed errors, and runs good ones', async () => {
    const { hub, conn, s } = setup();
    hub.onCommand(async (name, args) => {
      if (name === 'unit.move') throw new HubError('not_found', `no unit ${(args as { id: string }).id}`);
      return { now: 5 };
    });
    s.receive(JSON.stringify({ t: 'cmd', id: '1', name: 'unit.teleport', args: {} }));
    s.receive(JSON.stringify({ t: 'cmd', id: '2', name: 'unit.move', args: { id: 'a', lat: 'north', lon: 120 } }));
    s.receive(JSON.stringify({ t: 'cmd', id: '3', name: 'unit.move', args: { id: 'a', lat: 95, lon: 120 } }));
    s.receive(JSON.stringify({ t: 'cmd', id: '4', name: 'unit.move', args: { id: 'ghost', lat: 30, lon: 120 } }));
    s.receive(JSON.stringify({ t: 'cmd', id: '5', name: 'hall.ping', args: {} }));
    await tick();
    const results = Object.fromEntries(conn.of('result').map((r) => [r.id, r]));
    expect(results['1']).toMatchObject({ ok: false, error: { code: 'unknown_command' } });
    expect(results['2']).toMatchObject({ ok: false, error: { code: 'invalid_args' } });
    expect(results['3']).toMatchObject({ ok: false, error: { code: 'invalid_args' } });
    expect(results['4']).toMatchObject({ ok: false, error: { code: 'not_found', message: 'no unit ghost' } });
    expect(results['5']).toMatchObject({ ok: true, value: { now: 5 } });
  });

  it('requires hello first and closes on a protocol version mismatch', () => {
    const hub = new Hub();
    hubs.push(hub);
    const conn = new MemConn();
    const s = hub.connect(conn, { kind: 'local', name: 'test' });
    s.receive(sub('units'));
    expect(conn.of('error')[0]!.error.message).toMatch(/hello first/);
    s.receive(JSON.stringify({ t: 'hello', v: 99, client: 'old' }));
    expect(conn.closed?.code).toBe(CLOSE.protocolVersion);
  });

  it('closes a client that keeps sending garbage', () => {
    const { conn, s } = setup({ maxBadFrames: 5 });
    for (let i = 0; i < 6; i++) s.receive('garbage');
    expect(conn.closed?.code).toBe(CLOSE.tooManyBadFrames);
  });

  it('cuts off a display that cannot keep up instead of buffering without bound', async () => {
    const { hub, conn, s } = setup({ maxBufferedBytes: 1000 });
    s.receive(sub('units'));
    conn.bufferedBytes = 5000;
    hub.publish('units', [{ op: 'put', id: 'x', value: { id: 'x' } }]);
    await tick();
    expect(conn.closed?.code).toBe(CLOSE.tooSlow);
    expect(hub.stats().closedSlow).toBe(1);
    expect(hub.stats().topics.units!.subscribers).toBe(0);
  });
});
