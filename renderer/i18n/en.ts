import type zh from './zh-CN.ts';

const en: typeof zh = {
  app: { name: 'Beacon', demo: 'Demo data', demoTitle: 'This data directory holds the built-in Zhejiang demonstration scenario, not real data' },
  role: { globe: 'Situation', wall: 'Video wall', calls: 'One-key connect', board: 'Board' },
  status: {
    outbox: 'To province', beijing: 'Beijing', utc: 'UTC', wan: 'WAN', feeds: 'Feeds', online: 'online', total: 'of',
    hall: { connecting: 'Connecting…', open: 'Connected', closed: 'Hall core lost' },
    link: { unknown: 'not monitored', online: 'up', degraded: 'degraded', offline: 'down' },
    language: '中文',
  },
  kind: { 'fire-rescue': 'Fire-rescue', professional: 'Professional', social: 'Volunteer', aviation: 'Aviation', depot: 'Supply depot', drone: 'Drone', vehicle: 'Vehicle' },
  unitStatus: { standby: 'Standby', 'en-route': 'En route', 'on-site': 'On site', offline: 'Offline' },
  level: { province: 'Province', city: 'City', county: 'County', township: 'Township', village: 'Village', team: 'Team', expert: 'Expert' },
  channel: { video: 'Video', voip: 'VoIP', mobile: 'Mobile', satellite: 'Satellite', radio: 'Radio' },
  stock: { tents: 'Tents', quilts: 'Quilts', lifejackets: 'Life jackets', pumps: 'Pumps', generators: 'Generators', sandbags: 'Sandbags' },
  globe: {
    bundled: 'Bundled base map (Natural Earth)', 
    search: 'Search teams, cities…', legend: 'Legend', cities: 'City command centres', counties: 'Counties',
    members: 'Members', home: 'Home', status: 'Status', updated: 'Updated', setStatus: 'Set status', flyTo: 'Fly to', close: 'Close',
    noWebgl: 'This display cannot start the 3D globe (WebGL unavailable)',
  },
  calls: { search: 'Search name or admin code', all: 'All', duty: 'On duty', deputy: 'Deputy', shown: 'Showing {shown} of {total}', none: 'No matching contacts' },
  board: { instructions: 'Instructions from above', urgent: 'URGENT', teams: 'Rescue forces', byStatus: 'By status', depots: 'Supply reserves', contacts: 'Directory', places: 'Command nodes', typhoons: 'Typhoons', fixes: 'fixes', total: 'Total' },
  wall: { empty: 'No video sources configured yet', feeds: 'Feed state', noFeeds: 'No feeds yet (drones, field teams, video)' },
  ty: {
    et: 'extratropical', 
    circles: 'Wind circles', 
    force: 'F{n}', 
    title: 'Typhoon', none: 'No typhoon data yet', bjt: 'Beijing time', play: 'Play', pause: 'Pause', perSec: '/s', warning: 'Warning lines',
    threat: 'Threat ranking', cities: 'Cities', counties: 'Counties', distance: 'To centre', closest: 'Closest approach', winds: 'Gales arrive',
    landfall: 'Landfall', noLandfall: 'No landfall detected', observed: 'observed',
    proposal: 'Proposed risk levels', noProposal: 'Nothing proposed', officer: 'Duty officer', accept: 'Accept', accepted: 'Accepted for {n} counties by {by}',
    riskMap: 'Five-colour map (accepted)',
    drop: 'Drop a CMA best-track file or advisory JSON on the globe to import it', importing: 'Importing {i}/{n}…', imported: '{n} storms imported, {e} problems', advImported: '{n} advisories imported, {e} refused',
  },
  grade: { TD: 'Tropical depression', TS: 'Tropical storm', STS: 'Severe tropical storm', TY: 'Typhoon', STY: 'Severe typhoon', SuperTY: 'Super typhoon' },
  risk: { red: 'R', orange: 'O', yellow: 'Y', blue: 'B', none: '–' },
  horizon: { now: 'Now', h3: '3 h', h6: '6 h', h24: '24 h', h48: '48 h' },
  incident: {
    title: 'Incidents', close: 'Close', report: 'Report', county: 'County', what: 'What happened',
    kind: { typhoon: 'Typhoon damage', flood: 'Flood', landslide: 'Landslide', hazchem: 'Hazardous chemicals', fire: 'Fire', traffic: 'Traffic accident', rescue: 'Rescue', other: 'Other' },
    sev: { I: 'especially major', II: 'major', III: 'large', IV: 'ordinary' },
  },
  riskName: { red: 'red', orange: 'orange', yellow: 'yellow', blue: 'blue' },
};
export default en;
