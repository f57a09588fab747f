import { randomBytes } from 'node:crypto';
import type { JsonValue } from '../codec.js';

export type TurnRole = 'system' | 'user' | 'assistant' | 'tool';

/** One entry of a conversation's history, as stored (one JSON string per list item). */
export interface Turn {
  /** Unique within the conversation: `<writer>-<counter>`; archives and replays de-duplicate on it. */
  readonly id: string;
  readonly role: TurnRole;
  readonly content: string;
  /** ISO-8601 time the turn was appended. */
  readonly at: string;
  /** Position in the Redis list (0-based), when known: after a flush or a read. */
  readonly seq?: number;
  readonly meta?: Readonly<Record<string, JsonValue>>;
}

/** `meta.kind` of a marker turn that shortens an earlier assistant turn to what the caller heard (barge-in). */
export const TRUNCATION = 'truncation';

/** `meta.kind` of a marker turn that flags an earlier assistant turn as never heard (the caller had gone). */
export const UNHEARD = 'unheard';

/** Makes turn ids for one writer: a random writer tag and a counter, short to keep bytes per turn small. */
export class TurnIds {
  private counter = 0;
  readonly writer: string;
  constructor(writer: string = randomBytes(4).toString('hex')) {
    this.writer = writer;
  }
  next(): string {
    return `${this.writer}-${(this.counter++).toString(36)}`;
  }
}

/** `id` first: the journal's replay check reads it without parsing the whole turn. */
export function encodeTurn(turn: Turn): string {
  const { id, role, content, at, meta } = turn;
  return JSON.stringify(meta === undefined ? { id, role, content, at } : { id, role, content, at, meta });
}

export function decodeTurn(raw: string, seq: number): Turn {
  try {
    const t = JSON.parse(raw) as Partial<Turn>;
    if (typeof t.id === 'string' && typeof t.role === 'string' && typeof t.content === 'string') {
      return { id: t.id, role: t.role, content: t.content, at: typeof t.at === 'string' ? t.at : '', seq, ...(t.meta ? { meta: t.meta } : {}) };
    }
  } catch {
    // fall through: an unreadable item is kept visible rather than silently dropped
  }
  return { id: `raw-${seq}`, role: 'system', content: raw, at: '', seq, meta: { unreadable: true } };
}

/**
 * Applies truncation markers: the turn a marker names takes the marker's (heard) content, and the
 * marker itself is not shown; an unheard marker flags its target `unheard`. Markers whose target is
 * outside the list are dropped.
 */
export function materialize(turns: readonly Turn[]): Turn[] {
  const out: Turn[] = [];
  const byId = new Map<string, number>();
  for (const turn of turns) {
    if (turn.meta?.kind === UNHEARD) {
      const target = byId.get(String(turn.meta.replaces));
      const original = target === undefined ? undefined : out[target];
      if (original && target !== undefined) out[target] = { ...original, meta: { ...original.meta, unheard: true } };
      continue;
    }
    if (turn.meta?.kind === TRUNCATION) {
      const target = byId.get(String(turn.meta.replaces));
      const original = target === undefined ? undefined : out[target];
      if (original && target !== undefined) {
        out[target] = { ...original, content: turn.content, meta: { ...original.meta, truncated: true, ...(turn.meta.heardMs !== undefined ? { heardMs: turn.meta.heardMs } : {}) } };
      }
      continue;
    }
    byId.set(turn.id, out.length);
    out.push(turn);
  }
  return out;
}
