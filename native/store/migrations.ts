// Append-only, numbered migrations. Never edit a released one: add the next number.
// Each has a test that builds the database at N-1, fills it, migrates and checks N (tests/unit/migrations.test.ts).
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'journal and the first projections',
    sql: `
      -- Every state change, in order. Domain tables below are projections of it.
      -- (origin, key) is the idempotency key: an event arriving twice (store-and-forward) is kept once.
      CREATE TABLE journal (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        ts      INTEGER NOT NULL,
        kind    TEXT    NOT NULL,
        subject TEXT    NOT NULL,
        payload TEXT    NOT NULL,
        origin  TEXT    NOT NULL,
        key     TEXT,
        UNIQUE (origin, key)
      );
      CREATE INDEX journal_ts ON journal (ts);
      CREATE INDEX journal_subject ON journal (subject, id);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      -- 'event' is the journal id that last wrote the row: provenance for replay and rebuild checks.
      CREATE TABLE hall (id TEXT PRIMARY KEY, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE TABLE places (id TEXT PRIMARY KEY, kind TEXT NOT NULL, code TEXT NOT NULL, parent TEXT,
                           data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX places_parent ON places (parent);
      CREATE TABLE units (id TEXT PRIMARY KEY, kind TEXT NOT NULL, home TEXT NOT NULL, status TEXT NOT NULL,
                          lat REAL NOT NULL, lon REAL NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX units_kind ON units (kind, status);
      CREATE TABLE contacts (id TEXT PRIMARY KEY, level TEXT NOT NULL, code TEXT NOT NULL, parent TEXT,
                             data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX contacts_code ON contacts (code, level);
      CREATE TABLE typhoons (id TEXT PRIMARY KEY, year INTEGER NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
    `,
  },
  {
    version: 2,
    name: 'display layouts and feed registry',
    sql: `
      CREATE TABLE layouts (id TEXT PRIMARY KEY, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE TABLE feeds (id TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
    `,
  },
  {
    version: 3,
    name: 'outbox for store-and-forward to the province',
    sql: `
      -- What the province must be told, appended in the same transaction as the change it reports.
      -- Sent in (priority, seq) order; acked is set on the broker's acknowledgement (QoS 1).
      CREATE TABLE outbox (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        event    INTEGER NOT NULL UNIQUE REFERENCES journal (id),
        category TEXT    NOT NULL,
        priority INTEGER NOT NULL,
        created  INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        acked    INTEGER
      );
      CREATE INDEX outbox_pending ON outbox (priority, seq) WHERE acked IS NULL;
    `,
  },
  {
    version: 4,
    name: 'instructions from the province',
    sql: `
      CREATE TABLE instructions (id TEXT PRIMARY KEY, received INTEGER NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX instructions_received ON instructions (received);
    `,
  },
  {
    version: 5,
    name: 'outbox thinning',
    sql: `
      -- Positions thinned under the uplink's bandwidth budget: never sent, kept in the journal.
      ALTER TABLE outbox ADD COLUMN thinned INTEGER;
      DROP INDEX outbox_pending;
      CREATE INDEX outbox_pending ON outbox (priority, seq) WHERE acked IS NULL AND thinned IS NULL;
    `,
  },
  {
    version: 6,
    name: 'typhoon advisories and the five-colour risk map',
    sql: `
      -- Every agency's advisories, kept: the newest per storm and agency is current.
      CREATE TABLE advisories (id TEXT PRIMARY KEY, storm TEXT NOT NULL, agency TEXT NOT NULL, issued INTEGER NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX advisories_storm ON advisories (storm, agency, issued);
      -- Risk levels per county (now and 3/6/24/48 h), as last set or accepted by the duty officer.
      CREATE TABLE risks (id TEXT PRIMARY KEY, data TEXT NOT NULL, event INTEGER NOT NULL);
    `,
  },
  {
    version: 7,
    name: 'incidents',
    sql: `
      CREATE TABLE incidents (id TEXT PRIMARY KEY, status TEXT NOT NULL, reported INTEGER NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX incidents_open ON incidents (status, reported);
    `,
  },
  {
    version: 8,
    name: 'county boundaries',
    sql: `
      CREATE TABLE boundaries (id TEXT PRIMARY KEY, data TEXT NOT NULL, event INTEGER NOT NULL);
    `,
  },
  {
    version: 9,
    name: 'call log and consultations',
    sql: `
      -- One row per call (one-key press or consultation leg), as it stands: the call log.
      CREATE TABLE calls (id TEXT PRIMARY KEY, contact TEXT NOT NULL, started INTEGER NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX calls_started ON calls (started);
      CREATE INDEX calls_contact ON calls (contact, started);
      CREATE TABLE consultations (id TEXT PRIMARY KEY, started INTEGER NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
    `,
  },
  {
    version: 10,
    name: 'video sources and wall layouts',
    sql: `
      -- Video sources with their gateway endpoints (the config; displays get a view without URLs).
      CREATE TABLE videos (id TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      -- One row per display: its wall grid and the source on each tile.
      CREATE TABLE walls (id TEXT PRIMARY KEY, data TEXT NOT NULL, event INTEGER NOT NULL);
    `,
  },
  {
    version: 11,
    name: 'key targets and shelters',
    sql: `
      -- Hazardous-chemical sites, reservoirs and shelters on the map.
      CREATE TABLE sites (id TEXT PRIMARY KEY, kind TEXT NOT NULL, county TEXT NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
    `,
  },
  {
    version: 12,
    name: 'the watch',
    sql: `
      -- Who holds the hall's watch now (one row, replaced at each handover; the journal keeps them all).
      CREATE TABLE duty (id TEXT PRIMARY KEY, data TEXT NOT NULL, event INTEGER NOT NULL);
    `,
  },
  {
    version: 13,
    name: 'emergency alerts',
    sql: `
      -- Alerts raised by field devices (TAK 911 and the like): open until acknowledged, kept after.
      CREATE TABLE alerts (id TEXT PRIMARY KEY, raised INTEGER NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX alerts_raised ON alerts (raised);
    `,
  },
  {
    version: 14,
    name: 'instructions sent down the network',
    sql: `
      -- Orders this hall sent to the halls below, with each target's receipts (delivered, read).
      CREATE TABLE orders (id TEXT PRIMARY KEY, sent INTEGER NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX orders_sent ON orders (sent);
    `,
  },
  {
    version: 15,
    name: 'emergency response levels and their checklists',
    sql: `
      -- This hall's response (id 'own') and those of the halls above (their codes).
      CREATE TABLE responses (id TEXT PRIMARY KEY, data TEXT NOT NULL, event INTEGER NOT NULL);
      -- The plan's checklist template per level, and the checklists declared levels opened.
      CREATE TABLE plans (id TEXT PRIMARY KEY, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE TABLE checklists (id TEXT PRIMARY KEY, opened INTEGER NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX checklists_opened ON checklists (opened);
    `,
  },
  {
    version: 16,
    name: "the journal's epoch in uplink message keys",
    sql: `
      -- Uplink keys are <hall>:<event id>, and the halls above keep each key once. A hall reinstalled
      -- with an empty journal counts its events from 1 again, and the halls above would take its new
      -- reports for repeats of old ones and drop them. A new journal gets an epoch of its own
      -- (<hall>:<epoch>-<event id>); one that has already sent under the old keys keeps them ('').
      INSERT INTO meta (key, value) SELECT 'uplink.epoch', CASE WHEN EXISTS (SELECT 1 FROM outbox WHERE acked IS NOT NULL) THEN '' ELSE lower(hex(randomblob(4))) END
        WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'uplink.epoch');
    `,
  },
  {
    version: 17,
    name: 'risk-prompt sheets',
    sql: `
      -- Sheets issued here (every recipient's progress) and received from above (this hall's own).
      CREATE TABLE sheets (id TEXT PRIMARY KEY, created INTEGER NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX sheets_created ON sheets (created);
    `,
  },
  {
    version: 18,
    name: 'tasks',
    sql: `
      -- Tasks (派单) assigned here (to this hall's teams and depots, or to halls below) and from above.
      CREATE TABLE tasks (id TEXT PRIMARY KEY, created INTEGER NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL, event INTEGER NOT NULL);
      CREATE INDEX tasks_created ON tasks (created);
    `,
  },
  {
    version: 19,
    name: 'measure templates',
    sql: `
      -- The measures a sheet drafted from the analysis proposes, per hazard and level (the hall's own).
      CREATE TABLE templates (id TEXT PRIMARY KEY, data TEXT NOT NULL, event INTEGER NOT NULL);
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
