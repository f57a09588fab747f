/**
 * Instrumentation of the callback path at its seams, as thin wrappers: the session store, the agent
 * and the ACS client a handler is given are wrapped once per app (`app/index.ts`), and the handlers
 * wrap each event in a span. Nothing here changes what the wrapped objects do or return.
 *
 * A callback turn (`RecognizeCompleted`, `RecognizeFailed`, `CallConnected`) is timed as the caller
 * waits: from the ACS event's own `time` to the play or recognize request ACS accepted (the end of
 * the handling). Its stages — `delivery` (event time to the handler), `redis`, `model`, `acs` — are
 * summed per turn and recorded beside it.
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { ATTR, inSpan, SpanKind, type Span } from './tracing.js';
import { recordStage, recordTurnLatency } from './metrics.js';

/** The stage times of the turn being handled (summed over its Redis, model and ACS calls). */
class TurnStages {
  readonly ms = new Map<string, number>();
  constructor(readonly eventAtMs: number = Number.NaN) {}
  add(stage: string, durationMs: number): void {
    this.ms.set(stage, (this.ms.get(stage) ?? 0) + durationMs);
  }
}

const turnScope = new AsyncLocalStorage<TurnStages>();

function addStage(stage: string, durationMs: number): void {
  turnScope.getStore()?.add(stage, durationMs);
}

/**
 * How long the caller has waited so far in the turn being handled: from the ACS event's own time to
 * now. Undefined outside a traced callback event or when the event had no time.
 */
export function callerWaitMs(now: number = Date.now()): number | undefined {
  const eventAtMs = turnScope.getStore()?.eventAtMs;
  return eventAtMs === undefined || !Number.isFinite(eventAtMs) ? undefined : Math.max(0, now - eventAtMs);
}

/** What the store wrapper reports after each successful call (the console feed listens). */
export type StoreCallObserver = (method: string, args: readonly unknown[], result: unknown) => void;

const ASYNC = Object.getPrototypeOf(async () => undefined).constructor as FunctionConstructor;

/**
 * The session store with a `redis <operation>` span around each of its async methods (the state
 * layer's primitives `read`/`writeDetailed`/`direct` are named by the operation they carry, e.g.
 * `redis conversation.flush`). Private fields keep working: methods run on the real store.
 */
export function instrumentStore<T extends object>(store: T, observe?: StoreCallObserver): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function' || !(value instanceof ASYNC)) return value;
      let wrapper = wrapped.get(property);
      if (!wrapper) {
        const method = String(property);
        const fn = value as (...args: unknown[]) => Promise<unknown>;
        wrapper = async (...args: unknown[]) => {
          const operation = operationName(method, args);
          const started = performance.now();
          const callId = NOT_PER_CALL.has(method) ? undefined : callIdOf(args[0]);
          const result = await inSpan(
            `redis ${operation}`,
            { kind: SpanKind.CLIENT, ...(callId ? { callId } : {}), attributes: { 'db.system.name': 'redis', [ATTR.operation]: operation, ...sessionAttributes(method, args[1]) } },
            () => fn.apply(target, args),
          );
          addStage('redis', performance.now() - started);
          if (observe) {
            try {
              observe(method, args, result);
            } catch {
              // An observer's failure must not fail the write it observes (the console feed logs its own).
            }
          }
          return result;
        };
        wrapped.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

/** `read(callId, 'call.get', …)`, `writeDetailed(callId, 'conversation.flush', …)`, `direct('affinity.claim', …)`. */
function operationName(method: string, args: readonly unknown[]): string {
  if ((method === 'read' || method === 'writeDetailed' || method === 'write') && typeof args[1] === 'string') return args[1];
  if (method === 'direct' && typeof args[0] === 'string') return args[0];
  return method;
}

/** A call session write's state and outcome (closed vocabularies, no PII): the operator queries count calls by outcome. */
function sessionAttributes(method: string, fields: unknown): Record<string, string> {
  if ((method !== 'createCallSession' && method !== 'updateCallSession') || fields === null || typeof fields !== 'object') return {};
  const { state, outcome } = fields as { state?: unknown; outcome?: unknown };
  return {
    ...(typeof state === 'string' && /^[a-z_]{1,40}$/.test(state) ? { 'rtvoice.call.state': state } : {}),
    ...(typeof outcome === 'string' && /^[a-z_]{1,40}$/.test(outcome) ? { [ATTR.outcome]: outcome } : {}),
  };
}

/** Store methods whose first argument is not a call id (workers, TTS entries, subjects, batches). */
const NOT_PER_CALL = new Set(['heartbeat', 'getHeartbeat', 'getTts', 'setTts', 'mediaCalls', 'direct', 'flushJournal', 'close']);

/** Call ids are ours (`callIdForIncoming`), never a number; anything else stays out of the span. */
function callIdOf(first: unknown): string | undefined {
  return typeof first === 'string' && /^[\w.:-]{4,128}$/.test(first) && !/^\+?\d{7,}$/.test(first) ? first : undefined;
}

/** The agent with a `model respond` span and the `model` stage. */
export function instrumentAgent<T extends { respond(...args: never[]): Promise<unknown> }>(agent: T): T {
  return new Proxy(agent, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (property !== 'respond' || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          return await inSpan('model respond', { kind: SpanKind.CLIENT, attributes: { [ATTR.stage]: 'model' } }, () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
        } finally {
          addStage('model', performance.now() - started);
        }
      };
    },
  });
}

const ACS_HANDLES = new Set(['getCallConnection', 'getCallMedia']);

/**
 * The ACS client with an `acs <operation>` span and the `acs` stage around every request a call
 * handle makes (`startRecognizing`, `playToAll`, `hangUp`…). The app wraps its client once and keeps
 * the call handles built on the wrapper (`AcsClient`), so a handle is wrapped once per call, not per event.
 */
export function instrumentAcsClient<T extends object>(client: T): T {
  return wrapAcsObject(client);
}

function wrapAcsObject<T extends object>(object: T): T {
  return new Proxy(object, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const name = String(property);
      if (ACS_HANDLES.has(name)) return (...args: unknown[]) => wrapAcsObject((value as (...a: unknown[]) => object).apply(target, args));
      if (name === 'constructor' || name.startsWith('_')) return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        const started = performance.now();
        return inSpan(`acs ${name}`, { kind: SpanKind.CLIENT, attributes: { [ATTR.operation]: name, [ATTR.stage]: 'acs' } }, () => result).finally(() => addStage('acs', performance.now() - started));
      };
    },
  });
}

/** Event kinds whose handling ends in a play or recognize request: the callback path's turns. */
const TURN_EVENTS = new Set(['CallConnected', 'RecognizeCompleted', 'RecognizeFailed']);

export interface TracedEvent {
  readonly id: string;
  readonly type: string;
  readonly kind: string;
  readonly time: string | undefined;
}

/**
 * One ACS event's handling as a span of the call's trace (`callback <EventKind>`, turn id = the event
 * id). For turn events, records the turn latency from the event's own timestamp and its stages.
 */
export async function traceCallbackEvent<T>(callId: string, event: TracedEvent, handle: () => Promise<T>): Promise<T> {
  const handlerStarted = Date.now();
  const eventAtMs = event.time ? Date.parse(event.time) : Number.NaN;
  const isTurn = TURN_EVENTS.has(event.kind);
  const stages = new TurnStages(eventAtMs);
  return inSpan(
    `callback ${event.kind === 'unknown' ? event.type : event.kind}`,
    { callId, kind: SpanKind.SERVER, attributes: { [ATTR.turnId]: event.id, [ATTR.eventId]: event.id, [ATTR.eventType]: event.type, [ATTR.path]: 'callback' } },
    async (span) => {
      const result = await turnScope.run(stages, handle);
      if (isTurn && Number.isFinite(eventAtMs)) recordCallbackTurn(span, event, eventAtMs, handlerStarted, stages);
      return result;
    },
  );
}

function recordCallbackTurn(span: Span, event: TracedEvent, eventAtMs: number, handlerStarted: number, stages: TurnStages): void {
  const attributes = { [ATTR.eventType]: event.kind, [ATTR.path]: 'callback' };
  const turnMs = Date.now() - eventAtMs;
  recordTurnLatency(turnMs, attributes);
  span.setAttribute('rtvoice.turn.latency_ms', Math.round(turnMs));
  // Delivery is the part of the wait spent before our handler ran (ACS queueing, network, cold start).
  const deliveryMs = Math.max(0, handlerStarted - eventAtMs);
  recordStage('delivery', deliveryMs, attributes);
  span.setAttribute('rtvoice.stage.delivery_ms', Math.round(deliveryMs));
  for (const [stage, ms] of stages.ms) {
    recordStage(stage, ms, attributes);
    span.setAttribute(`rtvoice.stage.${stage}_ms`, Math.round(ms * 10) / 10);
  }
}

/** The IncomingCall event's handling, through the answer, as the first span of the call's trace. */
export function traceIncomingCall<T>(callId: string, eventId: string, answer: () => Promise<T>): Promise<T> {
  return inSpan('incomingCall answer', { callId, kind: SpanKind.SERVER, attributes: { [ATTR.eventId]: eventId, [ATTR.path]: 'callback' } }, () => turnScope.run(new TurnStages(), answer));
}
