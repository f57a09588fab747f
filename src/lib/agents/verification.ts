import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { AuthState, AuthStates } from '../state/index.js';
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

export type { AuthState } from '../state/index.js';

/** What verification needs of the state layer: the calls' verification state. */
export type AuthStateStore = Pick<AuthStates, 'get' | 'countAttempt' | 'settleAttempt'>;

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
    return this.options.store.get(callId);
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
    const { counted, state } = await this.options.store.countAttempt(callId, settings.maxAttempts);
    if (!counted) return this.record(callId, state, 'locked_out', settings);
    const digitsOk = new RegExp(`^[0-9]{${settings.pinDigits}}$`).test(pin);
    const outcome = digitsOk && (await pinMatches(pin, stored)) ? 'verified' : 'wrong_pin';
    const verifiedUntil = new Date(this.now().getTime() + settings.verifiedForSeconds * 1000).toISOString();
    const after = await this.options.store.settleAttempt(callId, outcome, { maxAttempts: settings.maxAttempts, verifiedUntil });
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
