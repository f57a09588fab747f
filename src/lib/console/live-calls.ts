/**
 * The operations console's list of live calls: one small Redis hash (`{prefix}:{env}:console:{live}:calls`,
 * one field per call, a JSON summary with no PII beyond the masked caller number). It is what the
 * console shows when it opens; changes after that are pushed through Web PubSub (`feed.ts`).
 *
 * One hash tag, so it lives on one cluster slot. Entries of calls that never reported their end
 * (a crashed instance) are dropped when read after `staleAfterMs`.
 */

import type { RedisClient } from '../state/index.js';
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

// Reads the entry, overlays the new fields, writes it back and returns it; `state` defaults to unknown.
const MERGE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local entry = {}
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' then entry = decoded end
end
for k, v in pairs(cjson.decode(ARGV[2])) do entry[k] = v end
if entry.state == nil then entry.state = 'unknown' end
local encoded = cjson.encode(entry)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
return encoded
`;

export function liveCallsKey(prefix: string, env: string): string {
  return `${prefix}:${env}:console:{live}:calls`;
}

export class LiveCallRegistry {
  constructor(
    private readonly redis: () => Promise<Pick<RedisClient, 'eval' | 'hdel' | 'hgetall'>>,
    private readonly key: string,
    private readonly staleAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Merges `patch` into the call's entry in one atomic step (a script), so the functions and a relay
   * on other instances writing the same call at once lose nothing.
   */
  async update(callId: string, patch: Partial<Omit<LiveCall, 'callId' | 'updatedAt'>>): Promise<LiveCall> {
    const fields: Record<string, string> = {};
    for (const field of FIELDS) {
      const value = patch[field];
      if (typeof value === 'string' && value !== '') fields[field] = redact(value).slice(0, 120);
    }
    fields.callId = callId;
    fields.updatedAt = new Date(this.now()).toISOString();
    const merged = await (await this.redis()).eval(MERGE_SCRIPT, 1, this.key, callId, JSON.stringify(fields));
    return (parse(String(merged)) ?? { state: 'unknown', ...fields }) as LiveCall;
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
