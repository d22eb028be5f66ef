// One-key connect's settings from the command line and the environment, checked. The SIP password
// comes from the environment (BEACON_SIP_PASSWORD), never from argv, which every user can read in ps.
import { readFileSync } from 'node:fs';
import { DIAL_CHANNELS, type DialChannel } from '../../../common/domain.ts';
import type { CallsOptions } from './desk.ts';
import type { SipTransportKind } from './sip/transport.ts';

export function callsOptions(
  v: { sip?: string; 'sip-domain'?: string; 'sip-ca'?: string; 'sip-media'?: string; modem?: string; 'dial-order'?: string; 'no-answer'?: string; bridge?: string },
  env: NodeJS.ProcessEnv,
): CallsOptions {
  const o: CallsOptions = {};
  if (v.sip) {
    // sip:USER@HOST[:PORT][;transport=udp|tcp|tls|ws|wss]
    const m = /^sips?:([^@;:]+)@(\[[^\]]+\]|[^:;]+)(?::(\d{1,5}))?(?:;transport=(udp|tcp|tls|ws|wss))?$/i.exec(v.sip);
    if (!m) throw new Error(`--sip '${v.sip}' is not sip:USER@HOST[:PORT][;transport=udp|tcp|tls|ws|wss]`);
    const password = env.BEACON_SIP_PASSWORD;
    if (!password) throw new Error('--sip needs the account password in BEACON_SIP_PASSWORD');
    const transport = (m[4]?.toLowerCase() ?? 'udp') as SipTransportKind;
    const host = m[2]!.replace(/^\[|\]$/g, '');
    const port = Number(m[3] ?? (transport === 'tls' || transport === 'wss' ? 5061 : transport === 'ws' ? 80 : 5060));
    let ca: string | undefined;
    if (v['sip-ca']) {
      try {
        ca = readFileSync(v['sip-ca'], 'utf8');
      } catch (e) {
        throw new Error(`--sip-ca: cannot read ${v['sip-ca']}: ${(e as Error).message}`);
      }
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--sip-ca: ${v['sip-ca']} is not a PEM certificate`);
    }
    o.sip = { aor: `sip:${m[1]}@${v['sip-domain'] ?? host}`, password, server: { host, port, transport, ...(ca ? { ca } : {}) }, expires: 300 };
  }
  if (v['sip-media']) {
    if (v['sip-media'] !== 'headset' && v['sip-media'] !== 'terminal') throw new Error(`--sip-media must be headset or terminal, not '${v['sip-media']}'`);
    o.media = v['sip-media'];
  }
  if (v.bridge) {
    if (!/^wss?:\/\/[^\s/]+(\/[^\s]*)?$/.test(v.bridge)) throw new Error(`--bridge must be the conference bridge's ws:// or wss:// address, not '${v.bridge}'`);
    o.bridge = { url: v.bridge };
  }
  if (v.modem) o.satellite = { path: v.modem };
  if (v['dial-order']) {
    const order = v['dial-order'].split(',').map((s) => s.trim());
    const bad = order.filter((c) => !(DIAL_CHANNELS as readonly string[]).includes(c));
    if (bad.length || !order.length) throw new Error(`--dial-order: unknown channel ${bad.join(', ')} (use ${DIAL_CHANNELS.join(',')})`);
    o.order = [...new Set(order)] as DialChannel[];
  }
  if (v['no-answer']) {
    const n = Number(v['no-answer']);
    if (!Number.isInteger(n) || n < 5 || n > 120) throw new Error(`--no-answer must be 5..120 seconds, not '${v['no-answer']}'`);
    o.noAnswerS = n;
  }
  return o;
}
