import type { RetryPolicy } from './retry.js';

/** Action type numbers of durable-functions' `ActionType` enum (lib/src/actions/ActionType.js). */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

export interface RawAction {
  readonly actionType: number;
  readonly functionName?: string;
  readonly input?: unknown;
  readonly retryOptions?: RetryPolicy;
  readonly fireAt?: Date;
  isCanceled?: boolean;
  readonly externalEventName?: string;
  readonly compoundActions?: RawAction[];
}

/** What a replay returns (durable-functions' `OrchestratorState`). */
export interface OrchestratorState {
  readonly isDone: boolean;
  readonly actions: RawAction[][];
  readonly output?: unknown;
  readonly error?: string;
  readonly customStatus?: unknown;
}

/**
 * The replay's actions in scheduling order, compound actions (Task.any / Task.all) expanded into their
 * children, each action object once. The order is the order in which the library hands out task
 * sequence numbers, so the n-th schedulable action here is the n-th task of the orchestration.
 */
export function flattenActions(state: OrchestratorState): RawAction[] {
  const seen = new Set<RawAction>();
  const out: RawAction[] = [];
  const visit = (action: RawAction) => {
    if (action.actionType === ActionType.WhenAny || action.actionType === ActionType.WhenAll) {
      for (const child of action.compoundActions ?? []) visit(child);
      return;
    }
    if (seen.has(action)) return;
    seen.add(action);
    out.push(action);
  };
  for (const group of state.actions ?? []) for (const action of group ?? []) visit(action);
  return out;
}

/** Inputs travel as JSON; the library pre-encodes string inputs (`Utils.processInput`), everything else is a value. */
export function decodeActionInput(input: unknown): unknown {
  if (input === undefined) return undefined;
  if (typeof input === 'string') return JSON.parse(input);
  return JSON.parse(JSON.stringify(input));
}
