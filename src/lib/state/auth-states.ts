import { z } from 'zod';
import { decodeJson } from './codec.js';
import type { Reply } from './commands.js';
import { StateError } from './errors.js';
import type { RedisKeys } from './keys.js';
import type { TieredStore } from './tiered-store.js';

/** A call's caller-verification state (`auth:{callId}:state`, the authentication_state TTL). */
const AuthStateSchema = z.object({
  attempts: z.number().int().nonnegative(),
  lockedOut: z.boolean(),
  /** ISO time until which the caller counts as verified. */
  verifiedUntil: z.string().optional(),
});
export type AuthState = Readonly<z.infer<typeof AuthStateSchema>>;

/** How a counted attempt went. */
export type AttemptOutcome = 'verified' | 'wrong_pin';

/** A stored verification state that does not match its schema. */
export class InvalidAuthStateError extends StateError {
  override name = 'InvalidAuthStateError';
  constructor(
    readonly callId: string,
    readonly fields: readonly string[],
  ) {
    super(`Verification state of ${callId} does not match its schema (fields: ${fields.join(', ')})`, { code: 'invalid_auth_state', context: { callId, fields: fields.join(',') } });
  }
}

/** What the repository needs of the engine: key names and TTLs, and Redis as the arbiter. */
export interface AuthStateEngine {
  readonly keys: Pick<RedisKeys, 'auth' | 'ttl'>;
  direct: TieredStore['direct'];
}

const NO_STATE = '{"attempts":0,"lockedOut":false}';

/**
 * Counts one attempt unless the call is locked out or has used every attempt.
 * KEYS[1] auth key; ARGV max attempts, TTL seconds. Returns {1 counted | 0 refused, state JSON}.
 */
const COUNT_ATTEMPT = `
local raw = redis.call('GET', KEYS[1]) or '${NO_STATE}'
local s = cjson.decode(raw)
if s.lockedOut or s.attempts >= tonumber(ARGV[1]) then return {0, raw} end
s.attempts = s.attempts + 1
local out = cjson.encode(s)
redis.call('SET', KEYS[1], out, 'EX', ARGV[2])
return {1, out}`;

/**
 * Records a counted attempt's outcome: verified (unless a concurrent failure locked the call out
 * meanwhile), or a failure that locks the call out once the attempts are used up.
 * KEYS[1] auth key; ARGV 'verified' | 'wrong_pin', max attempts, verified-until ISO, TTL seconds.
 */
const SETTLE_ATTEMPT = `
local s = cjson.decode(redis.call('GET', KEYS[1]) or '{"attempts":1,"lockedOut":false}')
if ARGV[1] == 'verified' then
  if not s.lockedOut then s.verifiedUntil = ARGV[3] end
elseif s.attempts >= tonumber(ARGV[2]) then
  s.lockedOut = true
end
local out = cjson.encode(s)
redis.call('SET', KEYS[1], out, 'EX', ARGV[4])
return out`;

/**
 * Caller-verification state: attempts, lockout and verified-until of each call, shared by every
 * instance. Each step is one Lua script on the call's single key (so Redis Cluster runs it on one
 * shard), so concurrent attempts cannot all pass the lockout check. Redis is the arbiter: while it
 * is away these fail (`RedisUnavailableError`) rather than count attempts in one process's memory.
 * Every write carries the authentication_state TTL.
 *
 * @example
 * const { counted } = await authStates.countAttempt(callId, 3);
 * if (counted) await authStates.settleAttempt(callId, 'wrong_pin', { maxAttempts: 3, verifiedUntil });
 */
export class AuthStates {
  constructor(private readonly engine: AuthStateEngine) {}

  /** The call's state; a call nobody tried to verify has no attempts. */
  async get(callId: string): Promise<AuthState> {
    const [raw] = await this.engine.direct('auth.get', [{ op: 'get', key: this.engine.keys.auth(callId) }]);
    return this.decode(callId, raw ?? NO_STATE);
  }

  /** Counts one attempt, unless the call is locked out or out of attempts (`counted: false`). */
  async countAttempt(callId: string, maxAttempts: number): Promise<{ readonly counted: boolean; readonly state: AuthState }> {
    const key = this.engine.keys.auth(callId);
    const [reply] = await this.engine.direct('auth.attempt.count', [{ op: 'eval', script: COUNT_ATTEMPT, keys: [key], args: [maxAttempts, this.ttlSeconds()] }]);
    const [counted, state] = reply as [number, string];
    return { counted: counted === 1, state: this.decode(callId, state) };
  }

  /** Records how a counted attempt went; the call is locked out once its attempts are used up. */
  async settleAttempt(callId: string, outcome: AttemptOutcome, options: { readonly maxAttempts: number; readonly verifiedUntil: string }): Promise<AuthState> {
    const key = this.engine.keys.auth(callId);
    const [settled] = await this.engine.direct('auth.attempt.settle', [
      { op: 'eval', script: SETTLE_ATTEMPT, keys: [key], args: [outcome, options.maxAttempts, options.verifiedUntil, this.ttlSeconds()] },
    ]);
    return this.decode(callId, settled ?? NO_STATE);
  }

  /** No TTL of our own: the authentication_state policy's applies to every write. */
  private ttlSeconds(): number {
    return this.engine.keys.ttl('auth', 'state');
  }

  private decode(callId: string, raw: Reply): AuthState {
    const result = AuthStateSchema.safeParse(decodeJson(this.engine.keys.auth(callId), String(raw)));
    if (!result.success) throw new InvalidAuthStateError(callId, [...new Set(result.error.issues.map((issue) => issue.path.join('.') || '(record)'))]);
    return result.data;
  }
}
