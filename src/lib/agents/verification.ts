import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { decodeJson, type Command, type JsonValue, type RedisKeys, type Reply } from '../state/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { VerificationSettings } from './schema.js';

/**
 * Caller verification by PIN. The state lives in Redis at `auth:{callId}:state` under the
 * authentication_state TTL, so any instance (a relay taking a call over after a failover, the next
 * callback invocation) sees the same attempts, lockout and verified-until. PINs are compared with
 * a salted scrypt hash from the caller's profile and are never stored, logged or audited.
 *
 * An attempt is counted before its PIN is checked, and both steps are one Lua script each on the
 * call's single key (so Redis Cluster runs them on one shard): concurrent attempts cannot all pass
 * the lockout check, and no more than `maxAttempts` PINs are ever compared. Redis is the arbiter
 * here: while it is away verification fails rather than counting attempts in one process's memory.
 */

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
const KEY_LENGTH = 32;

/** `scrypt$<salt>$<hash>` (base64url): what a profile stores instead of the PIN. */
export async function hashPin(pin: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(pin, salt, KEY_LENGTH);
  return `scrypt$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function pinMatches(pin: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(pin, Buffer.from(salt, 'base64url'), expected.length || KEY_LENGTH);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export interface AuthState {
  readonly attempts: number;
  readonly lockedOut: boolean;
  /** ISO time until which the caller counts as verified. */
  readonly verifiedUntil?: string;
}

/** What verification needs of the session store: its key names and TTLs, and Redis as the arbiter. */
export interface AuthStateStore {
  readonly keys: Pick<RedisKeys, 'auth' | 'ttl'>;
  direct(name: string, commands: readonly Command[]): Promise<Reply[]>;
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

export type VerificationAuditEntry = {
  readonly callId: string;
  readonly action: 'caller_verification';
  readonly actor: string;
  readonly at: string;
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
};

export type VerificationResult = 'verified' | 'wrong_pin' | 'locked_out' | 'no_pin_on_file';

export interface CallerVerificationOptions {
  readonly store: AuthStateStore;
  /** Every attempt is audited: outcome and attempt number, never the PIN. */
  readonly audit: (entry: VerificationAuditEntry) => Promise<void>;
  /** The PIN hash of the caller's profile. */
  readonly pinHashFor: (userId: string) => Promise<string | undefined>;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export class CallerVerification {
  constructor(private readonly options: CallerVerificationOptions) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  async state(callId: string): Promise<AuthState> {
    const key = this.options.store.keys.auth(callId);
    const [raw] = await this.options.store.direct('auth.get', [{ op: 'get', key }]);
    return decodeState(key, raw ?? NO_STATE);
  }

  async isVerified(callId: string): Promise<boolean> {
    const state = await this.state(callId);
    return !state.lockedOut && state.verifiedUntil !== undefined && Date.parse(state.verifiedUntil) > this.now().getTime();
  }

  /**
   * Checks a PIN for the call's caller. A locked-out call is refused without looking at the PIN; the
   * Nth wrong PIN locks the call out for the rest of the state's TTL.
   */
  async verifyPin(callId: string, userId: string | undefined, pin: string, settings: VerificationSettings): Promise<VerificationResult> {
    const before = await this.state(callId);
    if (before.lockedOut) return this.record(callId, before, 'locked_out', settings);
    const stored = userId ? await this.options.pinHashFor(userId) : undefined;
    if (!stored) return this.record(callId, before, 'no_pin_on_file', settings);
    const key = this.options.store.keys.auth(callId);
    // No TTL of our own: the authentication_state policy's applies to every write.
    const ttlSeconds = this.options.store.keys.ttl('auth', 'state');
    const [counted] = await this.options.store.direct('auth.attempt.count', [{ op: 'eval', script: COUNT_ATTEMPT, keys: [key], args: [settings.maxAttempts, ttlSeconds] }]);
    const [isCounted, countedState] = counted as [number, string];
    if (isCounted !== 1) return this.record(callId, decodeState(key, countedState), 'locked_out', settings);
    const digitsOk = new RegExp(`^[0-9]{${settings.pinDigits}}$`).test(pin);
    const outcome = digitsOk && (await pinMatches(pin, stored)) ? 'verified' : 'wrong_pin';
    const verifiedUntil = new Date(this.now().getTime() + settings.verifiedForSeconds * 1000).toISOString();
    const [settled] = await this.options.store.direct('auth.attempt.settle', [{ op: 'eval', script: SETTLE_ATTEMPT, keys: [key], args: [outcome, settings.maxAttempts, verifiedUntil, ttlSeconds] }]);
    const after = decodeState(key, settled as string);
    return this.record(callId, after, after.lockedOut ? 'locked_out' : outcome, settings);
  }

  private async record(callId: string, state: AuthState, result: VerificationResult, settings: VerificationSettings): Promise<VerificationResult> {
    const at = this.now().toISOString();
    try {
      await this.options.audit({ callId, action: 'caller_verification', actor: 'agent:verify_caller', at, details: { result, attempt: state.attempts, maxAttempts: settings.maxAttempts } });
    } catch (error) {
      // The attempt counts either way (the state is written first); a lost audit entry is logged, not hidden.
      this.options.logger.error('verification attempt not audited', { callId, result, error: error as Error });
    }
    this.options.logger.info('caller verification attempt', { callId, result, attempt: state.attempts });
    return result;
  }
}

function decodeState(key: string, raw: Reply): AuthState {
  const parsed = decodeJson<Record<string, JsonValue>>(key, String(raw));
  return {
    attempts: typeof parsed.attempts === 'number' ? parsed.attempts : 0,
    lockedOut: parsed.lockedOut === true,
    ...(typeof parsed.verifiedUntil === 'string' ? { verifiedUntil: parsed.verifiedUntil } : {}),
  };
}
