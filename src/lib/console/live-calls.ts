/**
 * The operations console's list of live calls: one small Redis hash (`{prefix}:{env}:console:{live}:calls`,
 * one field per call, a JSON summary with no PII beyond the masked caller number). It is what the
 * console shows when it opens; changes after that are pushed through Web PubSub (`feed.ts`).
 *
 * One hash tag, so it lives on one cluster slot. Entries of calls that never reported their end
 * (a crashed instance) are dropped when read after `staleAfterMs`.
 */

import type { RedisClient } from '../state/redis-client.js';
import { redact } from '../telemetry/logger.js';

export interface LiveCall {
  readonly callId: string;
  readonly state: string;
  readonly direction?: string;
  /** The agent answering (the agent mode until agents are named). */
  readonly agent?: string;
  readonly startedAt?: string;
  readonly updatedAt: string;
  /** Where the call's keys live: the cluster slot of its hash tag (and its node when known). */
  readonly shard?: string;
  /** The relay worker holding its media (realtime calls). */
  readonly relay?: string;
  readonly callerMasked?: string;
  readonly outcome?: string;
}

/** The fields a patch may set: anything else (a number, a name) never reaches the console. */
const FIELDS = ['state', 'direction', 'agent', 'startedAt', 'shard', 'relay', 'callerMasked', 'outcome'] as const;

export function liveCallsKey(prefix: string, env: string): string {
  return `${prefix}:${env}:console:{live}:calls`;
}

export class LiveCallRegistry {
  constructor(
    private readonly redis: () => Promise<Pick<RedisClient, 'hget' | 'hset' | 'hdel' | 'hgetall'>>,
    private readonly key: string,
    private readonly staleAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Merges `patch` into the call's entry (read-modify-write: the fields are few and a lost race only delays a field). */
  async update(callId: string, patch: Partial<Omit<LiveCall, 'callId' | 'updatedAt'>>): Promise<LiveCall> {
    const redis = await this.redis();
    const current = parse(await redis.hget(this.key, callId)) ?? { callId, state: 'unknown', updatedAt: '' };
    const next: Record<string, string> = { ...(current as unknown as Record<string, string>) };
    for (const field of FIELDS) {
      const value = patch[field];
      if (typeof value === 'string' && value !== '') next[field] = redact(value).slice(0, 120);
    }
    next.callId = callId;
    next.updatedAt = new Date(this.now()).toISOString();
    await redis.hset(this.key, callId, JSON.stringify(next));
    return next as unknown as LiveCall;
  }

  async remove(callId: string): Promise<void> {
    await (await this.redis()).hdel(this.key, callId);
  }

  /** The live calls, newest first; stale entries are dropped (and deleted). */
  async list(): Promise<LiveCall[]> {
    const redis = await this.redis();
    const all = await redis.hgetall(this.key);
    const calls: LiveCall[] = [];
    const stale: string[] = [];
    for (const [callId, raw] of Object.entries(all)) {
      const call = parse(raw);
      if (!call || this.now() - Date.parse(call.updatedAt) > this.staleAfterMs) stale.push(callId);
      else calls.push(call);
    }
    if (stale.length > 0) await redis.hdel(this.key, ...stale);
    return calls.sort((a, b) => (b.startedAt ?? b.updatedAt).localeCompare(a.startedAt ?? a.updatedAt));
  }
}

function parse(raw: string | null | undefined): LiveCall | undefined {
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as LiveCall;
    return typeof value.callId === 'string' && typeof value.updatedAt === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
