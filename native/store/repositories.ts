// One repository per domain table. Rows keep a few indexed columns for queries and the whole entity
// as JSON, so the projection is exactly what the hub serves.
import type Database from 'better-sqlite3';

export const TABLES = [
  'hall',
  'places',
  'units',
  'contacts',
  'typhoons',
  'feeds',
  'layouts',
  'instructions',
  'advisories',
  'risks',
  'incidents',
  'boundaries',
  'calls',
  'consultations',
  'videos',
  'walls',
  'sites',
  'duty',
  'alerts',
  'orders',
  'responses',
  'plans',
  'checklists',
  'sheets',
  'tasks',
  'templates',
] as const;
export type TableName = (typeof TABLES)[number];

export interface Repository {
  put(value: Record<string, unknown>, event: number): void;
  del(id: string): void;
  all(): unknown[];
  get(id: string): unknown;
  count(): number;
}

type Columns = (v: Record<string, unknown>) => unknown[];

function makeRepo(db: Database.Database, table: TableName, extra: string[], columns: Columns): Repository {
  const cols = ['id', ...extra, 'data', 'event'];
  const put = db.prepare(`INSERT INTO ${table} (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})
    ON CONFLICT (id) DO UPDATE SET ${cols
      .slice(1)
      .map((c) => `${c}=excluded.${c}`)
      .join(',')}`);
  const del = db.prepare(`DELETE FROM ${table} WHERE id = ?`);
  const all = db.prepare(`SELECT data FROM ${table} ORDER BY id`).pluck();
  const get = db.prepare(`SELECT data FROM ${table} WHERE id = ?`).pluck();
  const count = db.prepare(`SELECT count(*) FROM ${table}`).pluck();
  return {
    put(value, event) {
      put.run(String(value.id), ...columns(value), JSON.stringify(value), event);
    },
    del(id) {
      del.run(id);
    },
    all: () => (all.all() as string[]).map((s) => JSON.parse(s) as unknown),
    get(id) {
      const s = get.get(id) as string | undefined;
      return s === undefined ? undefined : (JSON.parse(s) as unknown);
    },
    count: () => count.get() as number,
  };
}

export function makeRepositories(db: Database.Database): Record<TableName, Repository> {
  return {
    hall: makeRepo(db, 'hall', [], () => []),
    places: makeRepo(db, 'places', ['kind', 'code', 'parent'], (v) => [v.kind, v.code, v.parent ?? null]),
    units: makeRepo(db, 'units', ['kind', 'home', 'status', 'lat', 'lon'], (v) => [v.kind, v.home, v.status, v.lat, v.lon]),
    contacts: makeRepo(db, 'contacts', ['level', 'code', 'parent'], (v) => [v.level, v.code, v.parent ?? null]),
    typhoons: makeRepo(db, 'typhoons', ['year'], (v) => [v.year]),
    feeds: makeRepo(db, 'feeds', ['kind'], (v) => [v.kind]),
    layouts: makeRepo(db, 'layouts', [], () => []),
    instructions: makeRepo(db, 'instructions', ['received'], (v) => [v.receivedAt]),
    advisories: makeRepo(db, 'advisories', ['storm', 'agency', 'issued'], (v) => [v.storm, v.agency, v.issued]),
    risks: makeRepo(db, 'risks', [], () => []),
    boundaries: makeRepo(db, 'boundaries', [], () => []),
    incidents: makeRepo(db, 'incidents', ['status', 'reported'], (v) => [v.status, v.reportedAt]),
    calls: makeRepo(db, 'calls', ['contact', 'started', 'state'], (v) => [v.contact, v.startedAt, v.state]),
    consultations: makeRepo(db, 'consultations', ['started'], (v) => [v.startedAt]),
    videos: makeRepo(db, 'videos', ['kind'], (v) => [v.kind]),
    walls: makeRepo(db, 'walls', [], () => []),
    sites: makeRepo(db, 'sites', ['kind', 'county'], (v) => [v.kind, v.county]),
    duty: makeRepo(db, 'duty', [], () => []),
    alerts: makeRepo(db, 'alerts', ['raised'], (v) => [v.raisedAt]),
    orders: makeRepo(db, 'orders', ['sent'], (v) => [v.sentAt]),
    responses: makeRepo(db, 'responses', [], () => []),
    plans: makeRepo(db, 'plans', [], () => []),
    checklists: makeRepo(db, 'checklists', ['opened'], (v) => [v.openedAt]),
    sheets: makeRepo(db, 'sheets', ['created'], (v) => [v.createdAt]),
    tasks: makeRepo(db, 'tasks', ['created', 'state'], (v) => [v.createdAt, v.state]),
    templates: makeRepo(db, 'templates', [], () => []),
  };
}
