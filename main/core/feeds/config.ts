// `--feed KIND[:key=value,...]` from the command line, checked against the same schema as the
// `feed.add` command. Examples (docs/feeds.md):
//   --feed mavlink-udp                      drones on udp :14550, where the hub listens
//   --feed mavlink-udp:host=0.0.0.0,allowFrom=10.33.0.0/16,signingKeyEnv=BEACON_MAV_KEY
//   --feed cot-tcp:port=8087,teamKind=fire-rescue
//   --feed mqtt-json:url=mqtt://10.1.1.5:1883,topic=beidou/#,id=beidou
//   --feed dji-mqtt:url=mqtts://emqx.hall:8883,username=beacon,passwordEnv=BEACON_DJI_PASSWORD
import { FEED_KINDS, FeedConfig, type FeedConfigInput } from '../../../common/domain.ts';

const NUMERIC = new Set(['port', 'silentAfterS', 'staleAfterS', 'lostAfterS', 'intervalS']);

export function parseFeedFlag(flag: string): FeedConfig {
  const m = /^([a-z-]+)(?::(.*))?$/.exec(flag.trim());
  if (!m || !(FEED_KINDS as readonly string[]).includes(m[1]!) || m[1] === 'video') {
    throw new Error(`--feed '${flag}': start with one of ${FEED_KINDS.filter((k) => k !== 'video').join(', ')}`);
  }
  const input: Record<string, unknown> = { kind: m[1], id: m[1] };
  for (const part of (m[2] ?? '').split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`--feed '${flag}': '${part}' is not key=value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 'password') throw new Error(`--feed '${flag}': a password never goes on the command line (ps shows it); name its environment variable with passwordEnv=`);
    if (key === 'name') input.name = { zh: value, en: value };
    else if (key === 'allowFrom')
      input.allowFrom = value
        .split(';')
        .map((v) => v.trim())
        .filter(Boolean);
    else input[key] = NUMERIC.has(key) ? Number(value) : value;
  }
  const parsed = FeedConfig.safeParse(input as FeedConfigInput);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`--feed '${flag}': ${i.path.join('.') || 'value'}: ${i.message}`);
  }
  return parsed.data;
}

export function feedsOptions(flags: string[] | undefined): { feeds: FeedConfig[] } {
  const feeds = (flags ?? []).map(parseFeedFlag);
  const ids = new Set<string>();
  for (const f of feeds) {
    if (ids.has(f.id)) throw new Error(`--feed: two feeds named '${f.id}'; give one an id=`);
    ids.add(f.id);
  }
  return { feeds };
}
