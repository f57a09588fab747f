/**
 * What the operations console sees change, taken from the session store's own writes (the store
 * wrapper's observer, see `instrumentStore`), so no handler of the call path needs to know about it:
 *
 * - `createCallSession` / `updateCallSession` (state, outcome) / `claimAffinity` (the relay) →
 *   the live-call registry and a `call` message; the call's end (`disconnected`, `deleteCall`) → `call-ended`;
 * - `conversation.flush` → a `turns` message with the turns appended (text redacted).
 *
 * Messages go to every console connection of the console hub (`sendToAll`): a console filters by the
 * call it shows, so a transcript is pushed, never polled. Publishing is fire-and-forget after the
 * store's write succeeded: the call path never waits for the console, and a failure is logged.
 */

import { decodeTurn, type Command } from '../state/index.js';
import type { StoreCallObserver } from '../telemetry/call-instrumentation.js';
import { redact, type Logger } from '../telemetry/logger.js';
import type { LiveCall, LiveCallRegistry } from './live-calls.js';

export const CONSOLE_HUB = 'console';

export type ConsoleMessage =
  | { readonly type: 'call'; readonly call: LiveCall }
  | { readonly type: 'call-ended'; readonly callId: string; readonly outcome?: string; readonly at: string }
  | { readonly type: 'turns'; readonly callId: string; readonly turns: readonly ConsoleTurn[] };

export interface ConsoleTurn {
  readonly id: string;
  readonly role: string;
  readonly text: string;
  readonly at: string;
  /** A barge-in marker: the agent turn it shortens was heard only up to here. */
  readonly truncates?: string;
}

export interface ConsoleFeedOptions {
  readonly registry: LiveCallRegistry;
  /** Sends one message to every console (undefined: no Web PubSub, the console shows snapshots only). */
  readonly publish?: (message: ConsoleMessage) => Promise<void>;
  readonly agentName: string;
  /** The shard label of a call (its slot, and node when known). */
  readonly shardOf?: (callId: string) => string | undefined;
  readonly logger: Logger;
}

const ENDED_STATES = new Set(['disconnected', 'ended', 'answer_failed']);

export function consoleFeed(options: ConsoleFeedOptions): StoreCallObserver {
  const { registry, logger } = options;
  let failures = 0;
  const fail = (what: string, callId: string) => (error: unknown) => {
    // Logged once per 100 failures: a console that cannot be fed must not flood the logs of every call.
    if (failures++ % 100 === 0) logger.warn(`console feed: ${what} failed`, { callId, failures, error: error as Error });
  };
  const send = (message: ConsoleMessage, callId: string) => {
    options.publish?.(message).catch(fail('publish', callId));
  };
  // One registry change at a time per call: an entry is read, merged and written back, and the
  // session's writes (created, connected, claimed by a relay) come close together.
  const chains = new Map<string, Promise<void>>();
  const inOrder = (callId: string, change: () => Promise<void>) => {
    const next = (chains.get(callId) ?? Promise.resolve()).then(change).finally(() => {
      if (chains.get(callId) === next) chains.delete(callId);
    });
    chains.set(callId, next);
  };
  const update = (callId: string, patch: Partial<Omit<LiveCall, 'callId' | 'updatedAt'>>) => {
    inOrder(callId, () =>
      registry
        .update(callId, patch)
        .then((call) => send({ type: 'call', call }, callId))
        .catch(fail('registry update', callId)),
    );
  };
  const end = (callId: string, outcome: string | undefined) => {
    inOrder(callId, () =>
      registry
        .remove(callId)
        .then(() => send({ type: 'call-ended', callId, ...(outcome ? { outcome } : {}), at: new Date().toISOString() }, callId))
        .catch(fail('registry removal', callId)),
    );
  };

  return (method, args, result) => {
    const callId = args[0];
    if (typeof callId !== 'string') return;
    switch (method) {
      case 'createCallSession': {
        if (!(result as { created?: boolean } | undefined)?.created) return;
        const fields = (args[1] ?? {}) as Record<string, unknown>;
        const shard = options.shardOf?.(callId);
        update(callId, {
          state: str(fields.state) ?? 'new',
          agent: options.agentName,
          ...pick(fields, ['direction', 'startedAt', 'callerMasked']),
          ...(shard ? { shard } : {}),
        });
        return;
      }
      case 'updateCallSession': {
        const fields = (args[1] ?? {}) as Record<string, unknown>;
        const state = str(fields.state);
        if (state && ENDED_STATES.has(state)) end(callId, str(fields.outcome));
        else if (state || fields.outcome !== undefined) update(callId, { ...(state ? { state } : {}), ...pick(fields, ['outcome']) });
        return;
      }
      case 'claimAffinity': {
        if ((result as { claimed?: boolean } | undefined)?.claimed && typeof args[1] === 'string') update(callId, { relay: args[1] });
        return;
      }
      case 'deleteCall':
        end(callId, undefined);
        return;
      case 'writeDetailed': {
        if (args[1] !== 'conversation.flush') return;
        const turns = appendedTurns(args[2] as readonly Command[] | undefined);
        if (turns.length > 0) send({ type: 'turns', callId, turns }, callId);
        return;
      }
      default:
        return;
    }
  };
}

/** The turns a flush appends to the history list, as the console shows them (text redacted). */
export function appendedTurns(commands: readonly Command[] | undefined): ConsoleTurn[] {
  const turns: ConsoleTurn[] = [];
  for (const command of commands ?? []) {
    if (command.op !== 'rpush' || !command.key.endsWith(':history')) continue;
    for (const raw of command.values) {
      const turn = decodeTurn(raw, 0);
      if (turn.role !== 'user' && turn.role !== 'assistant') continue;
      const replaces = turn.meta?.kind === 'truncation' && typeof turn.meta.replaces === 'string' ? turn.meta.replaces : undefined;
      turns.push({ id: turn.id, role: turn.role, text: redact(turn.content).slice(0, 2000), at: turn.at, ...(replaces ? { truncates: replaces } : {}) });
    }
  }
  return turns;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function pick(fields: Record<string, unknown>, names: readonly ('direction' | 'startedAt' | 'callerMasked' | 'outcome')[]): Partial<LiveCall> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = str(fields[name]);
    if (value) out[name] = value;
  }
  return out as Partial<LiveCall>;
}
