// Messages from the province to this hall (beacon/<hall>/down/<kind>). Parsed and checked here,
// never trusted: a bad message is refused with a reason and counted; a good one becomes a journal
// event with origin 'province' and the message's key, so a repeat is stored and applied once.
import { z } from 'zod';
import type { Instruction } from '../../../common/domain.ts';

export const MAX_DOWN_BYTES = 64 * 1024;

const Down = z.object({
  v: z.literal(1),
  key: z.string().min(1).max(128),
  kind: z.string().min(1).max(64),
  from: z.string().min(1).max(200),
  sentAt: z.number().int().min(0),
  body: z.unknown(),
});
const InstructionBody = z.object({ text: z.string().min(1).max(4000), priority: z.enum(['urgent', 'normal']).default('normal') }).strict();

export type DownResult =
  | { ok: true; kind: 'instruction.received'; key: string; payload: { instruction: Instruction } }
  | { ok: false; reason: 'too_large' | 'not_json' | 'bad_message' | 'unknown_kind' | 'wrong_hall'; message: string };

export function downTopic(hallId: string): string {
  return `beacon/${hallId}/down/#`;
}

export function parseDown(topic: string, payload: Buffer, hallId: string, now: number): DownResult {
  if (!topic.startsWith(`beacon/${hallId}/down/`)) return { ok: false, reason: 'wrong_hall', message: `topic ${topic.slice(0, 100)} is not for hall ${hallId}` };
  if (payload.length > MAX_DOWN_BYTES) return { ok: false, reason: 'too_large', message: `${payload.length} bytes exceeds ${MAX_DOWN_BYTES}` };
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not_json', message: 'payload is not JSON' };
  }
  const env = Down.safeParse(raw);
  if (!env.success) return { ok: false, reason: 'bad_message', message: env.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ').slice(0, 300) };
  const m = env.data;
  if (m.kind !== 'instruction') return { ok: false, reason: 'unknown_kind', message: `unknown kind ${m.kind.slice(0, 64)}` };
  const body = InstructionBody.safeParse(m.body);
  if (!body.success) return { ok: false, reason: 'bad_message', message: `instruction: ${body.error.issues[0]?.message}` };
  return {
    ok: true,
    kind: 'instruction.received',
    key: m.key,
    payload: { instruction: { id: m.key, from: m.from, text: body.data.text, priority: body.data.priority, sentAt: m.sentAt, receivedAt: now } },
  };
}
