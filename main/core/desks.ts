// The hall's desks, in the order they start (each may build on those before it: the uplink reports
// its traffic to the link desk's monitor; calls and tiles follow the WAN the link desk publishes).
// They are disposed in reverse. Adding a domain is a folder with a desk.ts and one line here
// (docs/architecture.md, "Adding a desk").
import { alertsDesk } from './alerts/desk.ts';
import { callsDesk } from './calls/desk.ts';
import { sheetsDesk } from './sheets/desk.ts';
import { tasksDesk } from './tasks/desk.ts';
import { commandDesk } from './command/desk.ts';
import { dutyDesk } from './duty/desk.ts';
import { feedsDesk } from './feeds/manager.ts';
import { incidentsDesk } from './incidents/desk.ts';
import { journalDesk } from './journal/desk.ts';
import type { DeskDef } from './kernel/port.ts';
import { layoutDesk } from './layout/desk.ts';
import { linkDesk } from './link/desk.ts';
import { networkDesk } from './network/desk.ts';
import { placesDesk } from './places/desk.ts';
import { tilesDesk } from './tiles/desk.ts';
import { trustDesk } from './trust/desk.ts';
import { typhoonDesk } from './typhoon/desk.ts';
import { unitsDesk } from './units/desk.ts';
import { uplinkDesk } from './uplink/desk.ts';
import { videoDesk } from './video/desk.ts';

export const DESKS = [
  trustDesk,
  journalDesk,
  linkDesk,
  placesDesk,
  unitsDesk,
  incidentsDesk,
  alertsDesk,
  layoutDesk,
  dutyDesk,
  typhoonDesk,
  callsDesk,
  feedsDesk,
  videoDesk,
  tilesDesk,
  networkDesk,
  commandDesk,
  sheetsDesk,
  tasksDesk,
  uplinkDesk,
] as const;

type Desks = (typeof DESKS)[number];
/** Each started desk under its name: `hall.desks.calls` is a CallDesk. */
export type DeskMap = { [D in Desks as D['name']]: Awaited<ReturnType<D['start']>> };
/** Each desk's options under its name: `HallOptions.calls` is CallsOptions. */
export type DeskOptions = { [D in Desks as D['name']]?: D extends DeskDef<string, infer _X, infer O> ? O : never };
