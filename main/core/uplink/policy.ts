// What the province must be told, and how urgently: the topic plan of docs/protocol.md
// ("Uplink to the province"). Lower priority numbers go first when a backlog drains.
export interface OutboxRoute {
  category: 'decisions' | 'incidents' | 'calls' | 'risk' | 'positions' | 'receipts' | 'down' | 'units' | 'sheets' | 'tasks';
  priority: number;
}

const ROUTES: Record<string, OutboxRoute> = {
  // A team dispatched or stood down is a command decision: never thinned, sent first.
  'unit.status': { category: 'decisions', priority: 0 },
  // Incidents: what happened and where, as soon as it is reported; closing one too.
  'incident.reported': { category: 'incidents', priority: 0 },
  'incident.closed': { category: 'incidents', priority: 0 },
  // The call log: who was reached, when, over what. After decisions and incidents, never thinned.
  'call.logged': { category: 'calls', priority: 1 },
  // Five-colour levels set or accepted by this hall's duty officer: after decisions, never thinned.
  'risk.set': { category: 'risk', priority: 1 },
  // The hall's units for the hall above: the roster at each start, then each one added or changed;
  // ahead of the dispatches that name them (issue 20).
  'unit.roster': { category: 'units', priority: 0 },
  'unit.upserted': { category: 'units', priority: 0 },
  // Instructions to the halls below: one per target, to beacon/<target>/down/instruction (issue 20).
  'order.dispatched': { category: 'down', priority: 0 },
  'risk.dispatched': { category: 'down', priority: 1 },
  // This hall's emergency response: a decision, told up at once (the heartbeat carries the level too);
  // levels passed to the halls below (this hall's and those from above), to beacon/<to>/down/response.level.
  'response.declared': { category: 'decisions', priority: 0 },
  'response.ended': { category: 'decisions', priority: 0 },
  'response.dispatched': { category: 'down', priority: 0 },
  // Risk-prompt sheets: each target's copy down; a recipient's progress on a sheet from above up
  // (delivered, signed for, feedback), in order, never thinned.
  'sheet.dispatched': { category: 'down', priority: 0 },
  'sheet.delivered': { category: 'sheets', priority: 0 },
  'sheet.signed': { category: 'sheets', priority: 0 },
  'sheet.feedback': { category: 'sheets', priority: 0 },
  // Tasks (派单): a hall's copy down; a hall's steps on a task from above up.
  'task.dispatched': { category: 'down', priority: 0 },
  'task.answered': { category: 'tasks', priority: 0 },
  // Receipts of instructions from above: delivered, then read.
  'instruction.delivered': { category: 'receipts', priority: 0 },
  'instruction.read': { category: 'receipts', priority: 0 },
  // Positions may be thinned under a bandwidth budget and go last.
  'unit.moved': { category: 'positions', priority: 2 },
  // Tracked units (drones, team trackers) as the feeds' storage policy keeps them.
  'unit.tracked': { category: 'positions', priority: 2 },
};

export function outboxRoute(kind: string): OutboxRoute | null {
  return ROUTES[kind] ?? null;
}

/** MQTT topic of one category for one hall. */
export function uplinkTopic(hallId: string, category: string): string {
  return `beacon/${hallId}/up/${category}`;
}

/** The uplink settings from the command line or environment, checked: a bus without a hall id (or
 *  the reverse) is a configuration error, not something to guess. */
export function provinceUplink(
  url: string | undefined,
  hallId: string | undefined,
  password?: string,
  username?: string,
): { url: string; hallId: string; username?: string; password?: string } | undefined {
  if (!url && !hallId) return undefined;
  if (!url || !hallId) throw new Error('the provincial bus needs both --province URL and --hall-id CODE');
  if (!/^mqtts?:\/\/[^\s/]+(:\d{1,5})?\/?$/.test(url)) throw new Error(`--province '${url}' is not mqtt://host:port or mqtts://host:port`);
  if (!/^\d{6}$/.test(hallId)) throw new Error(`--hall-id '${hallId}' is not a 6-digit GB/T 2260 code`);
  // the hall's own account on its bus (docs/network.md, "ACLs"): hall-<code> unless named
  return password ? { url, hallId, username: username ?? `hall-${hallId}`, password } : { url, hallId };
}
