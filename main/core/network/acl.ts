// The bus's access rules per hall (docs/network.md, "ACLs"), in mosquitto's acl_file form; EMQX's
// rules say the same (documented there). A hall publishes only its own uplink and its descendants'
// down topics, and reads only its own down topic and its descendants' uplinks; a child broker's
// bridge carries exactly its subtree. So no hall can publish as another: the broker refuses it.
import { isDescendant } from '../../../common/halls.ts';

/** Rules for every hall of `codes` on the bus of hall `bus` (its own, and its subtree's bridges). */
export function mosquittoAcl(bus: string, codes: readonly string[]): string {
  const below = (of: string) => codes.filter((c) => isDescendant(c, of));
  const out: string[] = [`# Beacon halls on the bus of ${bus}`];
  const hallRules = (code: string) => [
    `topic write beacon/${code}/up/#`,
    `topic read beacon/${code}/down/#`,
    ...below(code).flatMap((d) => [`topic read beacon/${d}/up/#`, `topic write beacon/${d}/down/#`]),
  ];
  // the hall whose bus this is
  out.push('', `user hall-${bus}`, ...hallRules(bus));
  for (const child of below(bus)) {
    // a child hall connecting here directly, and a child's broker bridging here: its subtree only
    const subtree = [child, ...below(child)];
    out.push('', `user hall-${child}`, ...hallRules(child));
    out.push('', `user bridge-${child}`, ...subtree.flatMap((c) => [`topic write beacon/${c}/up/#`, `topic read beacon/${c}/down/#`]));
  }
  return out.join('\n') + '\n';
}
