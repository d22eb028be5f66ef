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
    search: 'Search teams, cities…', legend: 'Legend', cities: 'City command centres', counties: 'Counties',
    members: 'Members', home: 'Home', status: 'Status', updated: 'Updated', setStatus: 'Set status', flyTo: 'Fly to', close: 'Close',
    noWebgl: 'This display cannot start the 3D globe (WebGL unavailable)',
  },
  calls: { search: 'Search name or admin code', all: 'All', duty: 'On duty', deputy: 'Deputy', shown: 'Showing {shown} of {total}', none: 'No matching contacts' },
  board: { instructions: 'Instructions from above', urgent: 'URGENT', teams: 'Rescue forces', byStatus: 'By status', depots: 'Supply reserves', contacts: 'Directory', places: 'Command nodes', typhoons: 'Typhoons', fixes: 'fixes', total: 'Total' },
  wall: { empty: 'No video sources configured yet', feeds: 'Feed state', noFeeds: 'No feeds yet (drones, field teams, video)' },
};
export default en;
