import { ENVIRONMENTS, type Environment } from '../config/settings.js';
import { InvalidEnvironmentError, InvalidIdentifierError, InvalidKeyError } from './errors.js';

/**
 * The Redis key convention of the data architecture:
 *
 *   `{prefix}:{env}:{dataType}:{{id}}:{component}`, e.g. `rtvoice:prod:call:{abc123}:session`
 *
 * The identifier is a Redis Cluster hash tag, so every key of one call (or conversation, worker…)
 * hashes to the same slot and multi-key MULTI/EXEC works in OSS cluster mode.
 */

export const DATA_TYPES = {
  call: ['session', 'summary', 'affinity', 'events', 'turns'],
  conversation: ['context', 'history'],
  worker: ['heartbeat', 'affinity'],
  auth: ['state'],
  tts: ['audio'],
  profile: ['cache'],
  system: ['metrics', 'health', 'calls'],
} as const;

export type DataType = keyof typeof DATA_TYPES;
export type Component<D extends DataType = DataType> = (typeof DATA_TYPES)[D][number];

export interface TtlPolicy {
  readonly name: string;
  readonly defaultSeconds: number;
  readonly minSeconds: number;
  readonly maxSeconds: number;
}

/**
 * TTL policies in seconds. The defaults are those of docs/data-model.md; the first five are the source
 * document's TTL_POLICIES and are never lowered. Per-call overrides are clamped to [min, max].
 */
export const TTL_POLICIES = {
  conversation_context: { name: 'conversation_context', defaultSeconds: 30 * 60, minSeconds: 5 * 60, maxSeconds: 24 * 3600 },
  session_history: { name: 'session_history', defaultSeconds: 2 * 3600, minSeconds: 15 * 60, maxSeconds: 24 * 3600 },
  authentication_state: { name: 'authentication_state', defaultSeconds: 15 * 60, minSeconds: 60, maxSeconds: 3600 },
  tts_cache: { name: 'tts_cache', defaultSeconds: 24 * 3600, minSeconds: 3600, maxSeconds: 30 * 24 * 3600 },
  call_summary: { name: 'call_summary', defaultSeconds: 7 * 24 * 3600, minSeconds: 24 * 3600, maxSeconds: 90 * 24 * 3600 },
  call_session: { name: 'call_session', defaultSeconds: 2 * 3600, minSeconds: 15 * 60, maxSeconds: 24 * 3600 },
  worker_heartbeat: { name: 'worker_heartbeat', defaultSeconds: 30, minSeconds: 5, maxSeconds: 300 },
  worker_affinity: { name: 'worker_affinity', defaultSeconds: 60, minSeconds: 10, maxSeconds: 600 },
  user_profile_cache: { name: 'user_profile_cache', defaultSeconds: 3600, minSeconds: 60, maxSeconds: 24 * 3600 },
  system_metrics: { name: 'system_metrics', defaultSeconds: 5 * 60, minSeconds: 30, maxSeconds: 3600 },
} as const satisfies Record<string, TtlPolicy>;

export type TtlPolicyName = keyof typeof TTL_POLICIES;

/** Which policy governs each key kind. Every key this app writes has one. */
export const KEY_TTL_POLICY: { readonly [D in DataType]: { readonly [C in Component<D>]: TtlPolicyName } } = {
  call: { session: 'call_session', summary: 'call_summary', affinity: 'worker_affinity', events: 'call_session', turns: 'call_session' },
  conversation: { context: 'conversation_context', history: 'session_history' },
  worker: { heartbeat: 'worker_heartbeat', affinity: 'worker_affinity' },
  auth: { state: 'authentication_state' },
  tts: { audio: 'tts_cache' },
  profile: { cache: 'user_profile_cache' },
  system: { metrics: 'system_metrics', health: 'system_metrics', calls: 'call_session' },
};

/** Clamps a requested TTL to the policy's bounds; no request means the policy's default. */
export function resolveTtl(policy: TtlPolicyName, requestedSeconds?: number): number {
  const p: TtlPolicy = TTL_POLICIES[policy];
  if (requestedSeconds === undefined || !Number.isFinite(requestedSeconds)) return p.defaultSeconds;
  return Math.min(p.maxSeconds, Math.max(p.minSeconds, Math.round(requestedSeconds)));
}

export const MAX_IDENTIFIER_LENGTH = 256;

// Reserved: the separator, the hash-tag braces, whitespace and control characters.
const FORBIDDEN = /[:{}\s\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

/** Throws {@link InvalidIdentifierError} unless `id` can stand inside a key. */
export function assertValidIdentifier(id: string): void {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidIdentifierError(String(id ?? ''), 'empty');
  if (id.length > MAX_IDENTIFIER_LENGTH) {
    throw new InvalidIdentifierError(id, `longer than ${MAX_IDENTIFIER_LENGTH} characters`);
  }
  const bad = FORBIDDEN.exec(id);
  if (bad) {
    const ch = bad[0];
    const what = ch === ':' ? "':'" : ch === '{' || ch === '}' ? `'${ch}'` : /\s/u.test(ch) ? 'whitespace' : 'a control character';
    throw new InvalidIdentifierError(id, `contains ${what}`);
  }
}

export function assertEnvironment(env: string): asserts env is Environment {
  if (!(ENVIRONMENTS as readonly string[]).includes(env)) throw new InvalidEnvironmentError(env);
}

export interface KeyParts {
  readonly prefix: string;
  readonly env: Environment;
  readonly dataType: DataType;
  readonly id: string;
  readonly component: Component;
}

const KEY_PATTERN = /^([a-z][a-z0-9-]{0,31}):([a-z]+):([a-z]+):\{([^{}]+)\}:([a-z]+)$/;

/**
 * Builds and parses the keys of one app prefix and environment.
 *
 * @example
 * const keys = new RedisKeys('rtvoice', 'prod');
 * keys.call('abc123', 'session'); // "rtvoice:prod:call:{abc123}:session"
 */
export class RedisKeys {
  constructor(
    readonly prefix: string,
    readonly env: Environment,
  ) {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(prefix)) throw new InvalidKeyError(prefix, 'key prefix');
    assertEnvironment(env);
  }

  key<D extends DataType>(dataType: D, id: string, component: Component<D>): string {
    assertValidIdentifier(id);
    if (!(DATA_TYPES[dataType] as readonly string[]).includes(component)) {
      throw new InvalidKeyError(`${dataType}:${component}`, 'known data type and component');
    }
    return `${this.prefix}:${this.env}:${dataType}:{${id}}:${component}`;
  }

  call(callId: string, component: Component<'call'>): string {
    return this.key('call', callId, component);
  }
  conversation(sessionId: string, component: Component<'conversation'>): string {
    return this.key('conversation', sessionId, component);
  }
  worker(workerId: string, component: Component<'worker'>): string {
    return this.key('worker', workerId, component);
  }
  auth(subjectId: string): string {
    return this.key('auth', subjectId, 'state');
  }
  tts(cacheId: string): string {
    return this.key('tts', cacheId, 'audio');
  }
  profile(userId: string): string {
    return this.key('profile', userId, 'cache');
  }
  system(name: string, component: Component<'system'>): string {
    return this.key('system', name, component);
  }

  /** The TTL in seconds for a key kind, with an optional per-call override clamped to the policy. */
  ttl<D extends DataType>(dataType: D, component: Component<D>, requestedSeconds?: number): number {
    const policies = KEY_TTL_POLICY[dataType] as Record<string, TtlPolicyName>;
    const policy = policies[component];
    if (!policy) throw new InvalidKeyError(`${dataType}:${component}`, 'known data type and component');
    return resolveTtl(policy, requestedSeconds);
  }

  /** Inverse of {@link key}; throws {@link InvalidKeyError} for anything that does not follow the convention. */
  static parse(key: string): KeyParts {
    const m = KEY_PATTERN.exec(key);
    if (!m) throw new InvalidKeyError(key, 'key of the form prefix:env:type:{id}:component');
    const [, prefix, env, dataType, id, component] = m as unknown as [string, string, string, string, string, string];
    assertEnvironment(env);
    if (!(dataType in DATA_TYPES)) throw new InvalidKeyError(key, 'key with a known data type');
    if (!(DATA_TYPES[dataType as DataType] as readonly string[]).includes(component)) {
      throw new InvalidKeyError(key, 'key with a known component');
    }
    assertValidIdentifier(id);
    return { prefix, env, dataType: dataType as DataType, id, component: component as Component };
  }
}
