// Messages from the province to this hall (beacon/<hall>/down/<kind>). Parsed and checked here,
// never trusted: a bad message is refused with a reason and counted; a good one becomes a journal
// event with origin 'province' and the message's key, so a repeat is stored and applied once.
import { z } from 'zod';
import { describeIssues } from '../../../common/contract.ts';
import { AdminCode, RiskLevels, Response, Sheet, Task, type Instruction } from '../../../common/domain.ts';
import { isDescendant } from '../../../common/halls.ts';
import type { EventKind } from '../journal/events.ts';
import { advisorySummary, parseAdvisory } from '../typhoon/advisory.ts';

export const MAX_DOWN_BYTES = 64 * 1024;
/** A sheet may carry its attachments (up to five of 512 KiB): its own limit. */
export const MAX_SHEET_BYTES = 3 * 1024 * 1024;

const Down = z.object({
  v: z.literal(1),
  key: z.string().min(1).max(128),
  kind: z.string().min(1).max(64),
  from: z.string().min(1).max(200),
  sentAt: z.number().int().min(0),
  body: z.unknown(),
});
const InstructionBody = z.object({ text: z.string().min(1).max(4000), priority: z.enum(['urgent', 'normal']).default('normal') }).strict();

/** Risk levels the province sets for this hall's counties (e.g. from its own typhoon analysis). */
const RiskBody = z
  .object({
    basis: z.string().min(1).max(128),
    items: z
      .array(z.object({ code: AdminCode, levels: RiskLevels }).strict())
      .min(1)
      .max(200),
  })
  .strict();

/** The kinds the province may send, each a body in its own schema. */
export const DOWN_KINDS = ['instruction', 'typhoon.advisory', 'risk.levels', 'response.level', 'sheet', 'task'] as const;

export interface DownEvent {
  kind: EventKind;
  subject: string;
  key: string;
  payload: unknown;
}
export type DownResult =
  { ok: true; kind: (typeof DOWN_KINDS)[number]; key: string; events: DownEvent[] } | { ok: false; reason: 'too_large' | 'not_json' | 'bad_message' | 'unknown_kind' | 'wrong_hall'; message: string };

export function downTopic(hallId: string): string {
  return `beacon/${hallId}/down/#`;
}

export function parseDown(topic: string, payload: Buffer, hallId: string, now: number): DownResult {
  if (!topic.startsWith(`beacon/${hallId}/down/`)) return { ok: false, reason: 'wrong_hall', message: `topic ${topic.slice(0, 100)} is not for hall ${hallId}` };
  const max = topic.endsWith('/down/sheet') ? MAX_SHEET_BYTES : MAX_DOWN_BYTES;
  if (payload.length > max) return { ok: false, reason: 'too_large', message: `${payload.length} bytes exceeds ${max}` };
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not_json', message: 'payload is not JSON' };
  }
  const env = Down.safeParse(raw);
  if (!env.success)
    return {
      ok: false,
      reason: 'bad_message',
      message: env.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')
        .slice(0, 300),
    };
  const m = env.data;
  switch (m.kind) {
    case 'instruction': {
      const body = InstructionBody.safeParse(m.body);
      if (!body.success) return { ok: false, reason: 'bad_message', message: `instruction: ${body.error.issues[0]?.message}` };
      const instruction: Instruction = { id: m.key, from: m.from, text: body.data.text, priority: body.data.priority, sentAt: m.sentAt, receivedAt: now };
      return { ok: true, kind: 'instruction', key: m.key, events: [{ kind: 'instruction.received', subject: `instruction:${m.key}`, key: m.key, payload: { instruction } }] };
    }
    case 'typhoon.advisory': {
      const r = parseAdvisory(m.body, now);
      if (!r.ok) return { ok: false, reason: 'bad_message', message: `typhoon.advisory: ${r.error}`.slice(0, 300) };
      return {
        ok: true,
        kind: 'typhoon.advisory',
        key: m.key,
        events: [
          { kind: 'typhoon.advisory', subject: `advisory:${r.advisory.id}`, key: m.key, payload: { advisory: r.advisory, name: r.name, year: r.year, number: r.number } },
          // and a notice among the instructions from above: the duty officer marks it read, and the
          // receipt goes back up as an instruction's does (issue 20)
          {
            kind: 'instruction.received',
            subject: `instruction:${m.key}`,
            key: `${m.key}:notice`,
            payload: {
              instruction: { id: m.key, from: m.from, text: advisorySummary(r.advisory, r), priority: 'normal', sentAt: m.sentAt, receivedAt: now, advisory: r.advisory.id } satisfies Instruction,
            },
          },
        ],
      };
    }
    case 'risk.levels': {
      const body = RiskBody.safeParse(m.body);
      if (!body.success) return { ok: false, reason: 'bad_message', message: `risk.levels: ${describeIssues(body.error)}`.slice(0, 300) };
      const by = m.from.slice(0, 64);
      return {
        ok: true,
        kind: 'risk.levels',
        key: m.key,
        events: body.data.items.map((it) => ({
          kind: 'risk.set',
          subject: `risk:${it.code}`,
          key: `${m.key}:${it.code}`,
          payload: { risk: { id: it.code, levels: it.levels, basis: body.data.basis, by, at: m.sentAt } },
        })),
      };
    }
    case 'sheet': {
      // a risk-prompt sheet from a hall above: issued to this hall, or closed or cancelled there
      const body = Sheet.safeParse(m.body);
      if (!body.success) return { ok: false, reason: 'bad_message', message: `sheet: ${describeIssues(body.error)}`.slice(0, 300) };
      const s = body.data;
      if (!isDescendant(hallId, s.issuer.hall) || !s.targets.includes(hallId) || !s.recipients[hallId])
        return { ok: false, reason: 'bad_message', message: `sheet ${s.id}: not from a hall above, or not to ${hallId}` };
      const sheet = { ...s, direction: 'in' as const, recipients: { [hallId]: s.recipients[hallId] } };
      return { ok: true, kind: 'sheet', key: m.key, events: [{ kind: 'sheet.received', subject: `sheet:${s.id}`, key: m.key, payload: { sheet } }] };
    }
    case 'task': {
      // a task from a hall above to this hall (new, or its issuer's step: verified, cancelled, reassigned)
      const body = Task.safeParse(m.body);
      if (!body.success) return { ok: false, reason: 'bad_message', message: `task: ${describeIssues(body.error)}`.slice(0, 300) };
      const t = body.data;
      const mentions = t.assignee.id === hallId || t.history.some((h) => h.assignee?.id === hallId);
      if (!isDescendant(hallId, t.issuer.hall) || !mentions) return { ok: false, reason: 'bad_message', message: `task ${t.id}: not from a hall above, or not to ${hallId}` };
      const task = { ...t, mine: t.assignee.kind === 'hall' && t.assignee.id === hallId };
      return { ok: true, kind: 'task', key: m.key, events: [{ kind: 'task.received', subject: `task:${t.id}`, key: m.key, payload: { task } }] };
    }
    case 'response.level': {
      // a hall above's emergency response (its own, or one it passes on from above it)
      const body = Response.safeParse(m.body);
      if (!body.success) return { ok: false, reason: 'bad_message', message: `response.level: ${describeIssues(body.error)}`.slice(0, 300) };
      if (!isDescendant(hallId, body.data.hall)) return { ok: false, reason: 'bad_message', message: `response.level: ${body.data.hall} is not a hall above ${hallId}` };
      const response = { ...body.data, id: body.data.hall };
      return { ok: true, kind: 'response.level', key: m.key, events: [{ kind: 'response.received', subject: `response:${response.hall}`, key: m.key, payload: { response } }] };
    }
    default:
      return { ok: false, reason: 'unknown_kind', message: `unknown kind ${m.kind.slice(0, 64)}` };
  }
}
