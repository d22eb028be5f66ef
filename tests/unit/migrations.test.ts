import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LATEST_VERSION, MIGRATIONS } from '../../native/store/migrations.ts';
import { migrate, Store } from '../../native/store/store.ts';
import { tempDir } from '../helpers/tmp.ts';

const tables = (db: Database.Database) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];

describe('migrations', () => {
  const dir = tempDir();

  it('are numbered 1..N without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_VERSION).toBe(MIGRATIONS.length);
  });

  it('0 -> 1 creates the journal and the first projections', () => {
    const db = new Database(join(dir, 'm1.sqlite'));
    expect(migrate(db, 1)).toBe(1);
    expect(tables(db)).toEqual(expect.arrayContaining(['journal', 'meta', 'hall', 'places', 'units', 'contacts', 'typhoons']));
    expect(tables(db)).not.toContain('layouts');
    db.close();
  });

  it('1 -> 2 adds layouts and feeds and keeps what version 1 stored', () => {
    const file = join(dir, 'm2.sqlite');
    const db = new Database(file);
    migrate(db, 1);
    const latest = LATEST_VERSION;
    db.prepare("INSERT INTO journal (ts, kind, subject, payload, origin) VALUES (1, 'unit.upserted', 'unit:a', '{}', 'test')").run();
    db.prepare("INSERT INTO units (id, kind, home, status, lat, lon, data, event) VALUES ('a', 'social', '330100', 'standby', 30, 120, '{\"id\":\"a\"}', 1)").run();
    expect(migrate(db, 2)).toBe(2);
    expect(tables(db)).toEqual(expect.arrayContaining(['layouts', 'feeds']));
    expect(db.prepare('SELECT count(*) FROM journal').pluck().get()).toBe(1);
    expect(db.prepare("SELECT data FROM units WHERE id = 'a'").pluck().get()).toBe('{"id":"a"}');
    // Then on to the latest, and running again is a no-op.
    expect(migrate(db)).toBe(latest);
    expect(migrate(db)).toBe(latest);
    db.close();
  });

  it('2 -> 3 adds the outbox, referencing journal events that version 2 stored', () => {
    const db = new Database(join(dir, 'm3.sqlite'));
    migrate(db, 2);
    db.prepare("INSERT INTO journal (ts, kind, subject, payload, origin) VALUES (1, 'unit.status', 'unit:a', '{}', 'test')").run();
    expect(migrate(db, 3)).toBe(3);
    db.prepare("INSERT INTO outbox (event, category, priority, created) VALUES (1, 'decisions', 0, 1)").run();
    expect(() => db.prepare("INSERT INTO outbox (event, category, priority, created) VALUES (1, 'decisions', 0, 1)").run()).toThrow(/UNIQUE/);
    expect(db.prepare('SELECT count(*) FROM journal').pluck().get()).toBe(1);
    db.close();
  });

  it('3 -> 4 adds instructions and keeps the outbox', () => {
    const db = new Database(join(dir, 'm4.sqlite'));
    migrate(db, 3);
    db.prepare("INSERT INTO journal (ts, kind, subject, payload, origin) VALUES (1, 'unit.status', 'unit:a', '{}', 'test')").run();
    db.prepare("INSERT INTO outbox (event, category, priority, created) VALUES (1, 'decisions', 0, 1)").run();
    expect(migrate(db, 4)).toBe(4);
    expect(tables(db)).toContain('instructions');
    expect(db.prepare('SELECT count(*) FROM outbox').pluck().get()).toBe(1);
    db.close();
  });

  it('4 -> 5 adds outbox thinning and keeps pending items pending', () => {
    const db = new Database(join(dir, 'm5.sqlite'));
    migrate(db, 4);
    db.prepare("INSERT INTO journal (ts, kind, subject, payload, origin) VALUES (1, 'unit.moved', 'unit:a', '{}', 'test')").run();
    db.prepare("INSERT INTO outbox (event, category, priority, created) VALUES (1, 'positions', 2, 1)").run();
    expect(migrate(db, 5)).toBe(5);
    expect(db.prepare('SELECT count(*) FROM outbox WHERE acked IS NULL AND thinned IS NULL').pluck().get()).toBe(1);
    db.close();
  });

  it('5 -> 6 adds advisories and risks and keeps the journal', () => {
    const db = new Database(join(dir, 'm6.sqlite'));
    migrate(db, 5);
    db.prepare("INSERT INTO journal (ts, kind, subject, payload, origin) VALUES (1, 'typhoon.upserted', 'typhoon:x', '{}', 'test')").run();
    expect(migrate(db, 6)).toBe(6);
    expect(tables(db)).toEqual(expect.arrayContaining(['advisories', 'risks']));
    expect(db.prepare('SELECT count(*) FROM journal').pluck().get()).toBe(1);
    db.prepare("INSERT INTO advisories (id, storm, agency, issued, data, event) VALUES ('a', 'x', 'CMA', 1, '{}', 1)").run();
    expect(() => db.prepare("INSERT INTO advisories (id, storm, agency, issued, data, event) VALUES ('a', 'x', 'CMA', 1, '{}', 1)").run()).toThrow(/UNIQUE/);
    db.close();
  });

  it('6 -> 7 adds incidents', () => {
    const db = new Database(join(dir, 'm7.sqlite'));
    migrate(db, 6);
    db.prepare("INSERT INTO risks (id, data, event) VALUES ('331081', '{}', 1)").run();
    expect(migrate(db, 7)).toBe(7);
    expect(tables(db)).toContain('incidents');
    expect(db.prepare('SELECT count(*) FROM risks').pluck().get()).toBe(1);
    db.close();
  });

  it('7 -> 8 adds county boundaries', () => {
    const db = new Database(join(dir, 'm8.sqlite'));
    migrate(db, 7);
    db.prepare("INSERT INTO incidents (id, status, reported, data, event) VALUES ('i', 'open', 1, '{}', 1)").run();
    expect(migrate(db, 8)).toBe(8);
    expect(tables(db)).toContain('boundaries');
    expect(db.prepare('SELECT count(*) FROM incidents').pluck().get()).toBe(1);
    db.close();
  });

  it('8 -> 9 adds the call log and consultations, keeping contacts', () => {
    const db = new Database(join(dir, 'm9.sqlite'));
    migrate(db, 8);
    db.prepare("INSERT INTO contacts (id, level, code, parent, data, event) VALUES ('c-1', 'county', '331081', NULL, '{}', 1)").run();
    expect(migrate(db, 9)).toBe(9);
    expect(tables(db)).toEqual(expect.arrayContaining(['calls', 'consultations']));
    db.prepare("INSERT INTO calls (id, contact, started, state, data, event) VALUES ('call-1', 'c-1', 5, 'ended', '{}', 2)").run();
    expect(db.prepare('SELECT count(*) FROM contacts').pluck().get()).toBe(1);
    db.close();
  });

  it('9 -> 10 adds video sources and wall layouts, keeping the call log and feeds', () => {
    const db = new Database(join(dir, 'm10.sqlite'));
    migrate(db, 9);
    db.prepare("INSERT INTO calls (id, contact, started, state, data, event) VALUES ('call-1', 'c-1', 5, 'ended', '{}', 2)").run();
    db.prepare("INSERT INTO feeds (id, kind, data, event) VALUES ('drones', 'mavlink-udp', '{}', 3)").run();
    expect(migrate(db, 10)).toBe(10);
    expect(tables(db)).toEqual(expect.arrayContaining(['videos', 'walls']));
    db.prepare("INSERT INTO videos (id, kind, data, event) VALUES ('cam-1', 'camera', '{}', 4)").run();
    db.prepare("INSERT INTO walls (id, data, event) VALUES ('wall-1', '{}', 5)").run();
    expect(db.prepare('SELECT count(*) FROM calls').pluck().get()).toBe(1);
    expect(db.prepare('SELECT count(*) FROM feeds').pluck().get()).toBe(1);
    db.close();
  });

  it('10 -> 11 adds key targets and shelters, keeping video sources', () => {
    const db = new Database(join(dir, 'm11.sqlite'));
    migrate(db, 10);
    db.prepare("INSERT INTO videos (id, kind, data, event) VALUES ('cam-1', 'camera', '{}', 4)").run();
    expect(migrate(db, 11)).toBe(11);
    expect(tables(db)).toContain('sites');
    db.prepare("INSERT INTO sites (id, kind, county, data, event) VALUES ('shelter-1', 'shelter', '331081', '{}', 6)").run();
    expect(db.prepare('SELECT count(*) FROM videos').pluck().get()).toBe(1);
    db.close();
  });

  it('11 -> 12 adds the watch, keeping key targets and shelters', () => {
    const db = new Database(join(dir, 'm12.sqlite'));
    migrate(db, 11);
    db.prepare("INSERT INTO sites (id, kind, county, data, event) VALUES ('shelter-1', 'shelter', '331081', '{}', 6)").run();
    expect(migrate(db, 12)).toBe(12);
    expect(tables(db)).toContain('duty');
    db.prepare("INSERT INTO duty (id, data, event) VALUES ('duty', '{}', 7)").run();
    expect(db.prepare('SELECT count(*) FROM sites').pluck().get()).toBe(1);
    db.close();
  });

  it('12 -> 13 adds emergency alerts, keeping the watch', () => {
    const db = new Database(join(dir, 'm13.sqlite'));
    migrate(db, 12);
    db.prepare("INSERT INTO duty (id, data, event) VALUES ('duty', '{}', 7)").run();
    expect(migrate(db, 13)).toBe(13);
    expect(tables(db)).toContain('alerts');
    db.prepare("INSERT INTO alerts (id, raised, data, event) VALUES ('alert-1', 1, '{}', 8)").run();
    expect(db.prepare('SELECT count(*) FROM duty').pluck().get()).toBe(1);
    db.close();
  });

  it('13 -> 14 adds orders sent down the network, keeping alerts', () => {
    const db = new Database(join(dir, 'm14.sqlite'));
    migrate(db, 13);
    db.prepare("INSERT INTO alerts (id, raised, data, event) VALUES ('alert-1', 1, '{}', 8)").run();
    expect(migrate(db, 14)).toBe(14);
    expect(tables(db)).toContain('orders');
    db.prepare("INSERT INTO orders (id, sent, data, event) VALUES ('ord-1', 1, '{}', 9)").run();
    expect(db.prepare('SELECT count(*) FROM alerts').pluck().get()).toBe(1);
    db.close();
  });

  it('14 -> 15 adds response levels, plans and checklists, keeping orders', () => {
    const db = new Database(join(dir, 'm15.sqlite'));
    migrate(db, 14);
    db.prepare("INSERT INTO orders (id, sent, data, event) VALUES ('ord-1', 1, '{}', 9)").run();
    expect(migrate(db, 15)).toBe(15);
    expect(tables(db)).toEqual(expect.arrayContaining(['responses', 'plans', 'checklists']));
    db.prepare("INSERT INTO checklists (id, opened, data, event) VALUES ('cl-1', 1, '{}', 10)").run();
    expect(db.prepare('SELECT count(*) FROM orders').pluck().get()).toBe(1);
    db.close();
  });

  it('15 -> 16 gives a new journal an epoch for its uplink keys; one that already sent keeps the old keys', () => {
    const fresh = new Database(join(dir, 'm16a.sqlite'));
    expect(migrate(fresh, 16)).toBe(16);
    expect(fresh.prepare("SELECT value FROM meta WHERE key = 'uplink.epoch'").pluck().get()).toMatch(/^[0-9a-f]{8}$/);
    fresh.close();
    const sent = new Database(join(dir, 'm16b.sqlite'));
    migrate(sent, 15);
    sent.prepare("INSERT INTO journal (ts, kind, subject, payload, origin) VALUES (1, 'unit.moved', 'unit:x', '{}', 'test')").run();
    sent.prepare("INSERT INTO outbox (event, category, priority, created, acked) VALUES (1, 'positions', 2, 1, 2)").run();
    expect(migrate(sent, 16)).toBe(16);
    expect(sent.prepare("SELECT value FROM meta WHERE key = 'uplink.epoch'").pluck().get()).toBe('');
    sent.close();
  });

  it('16 -> 17 adds risk-prompt sheets', () => {
    const db = new Database(join(dir, 'm17.sqlite'));
    migrate(db, 16);
    expect(migrate(db, 17)).toBe(17);
    db.prepare("INSERT INTO sheets (id, created, data, event) VALUES ('330000-abcd', 1, '{}', 1)").run();
    expect(tables(db)).toContain('sheets');
    db.close();
  });

  it('17 -> 18 adds tasks', () => {
    const db = new Database(join(dir, 'm18.sqlite'));
    migrate(db, 17);
    expect(migrate(db, 18)).toBe(18);
    db.prepare("INSERT INTO tasks (id, created, state, data, event) VALUES ('331000-tabcd', 1, 'assigned', '{}', 1)").run();
    expect(tables(db)).toContain('tasks');
    db.close();
  });

  it('18 -> 19 adds measure templates', () => {
    const db = new Database(join(dir, 'm19.sqlite'));
    migrate(db, 18);
    expect(migrate(db, 19)).toBe(19);
    expect(tables(db)).toContain('templates');
    db.close();
  });

  it('refuses a database from a newer Beacon instead of damaging it', () => {
    const file = join(dir, 'future.sqlite');
    const db = new Database(file);
    db.pragma(`user_version = ${LATEST_VERSION + 1}`);
    db.close();
    expect(() => new Store(file)).toThrow(/newer than this Beacon/);
  });

  it('opens in WAL mode with FULL sync', () => {
    const s = new Store(join(dir, 'wal.sqlite'));
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.db.pragma('synchronous', { simple: true })).toBe(2);
    s.close();
  });
});
