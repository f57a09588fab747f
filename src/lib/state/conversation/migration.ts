import type { Command } from '../commands.js';
import { encodeFields, type JsonValue } from '../codec.js';
import { StateFormatError } from '../errors.js';
import { encodeTurn, type Turn, type TurnRole } from './turns.js';

/**
 * Layouts a conversation may be found in, and how each becomes the current one.
 *
 * - v2 (current): context hash with one JSON value per field plus `_v = "2"`; history list of turn
 *   JSON (`{id, role, content, at, meta?}`), appended with RPUSH.
 * - v1 (ours, before field-level writes): context hash `{ _v: "1", data: <JSON object> }`; history
 *   list of `{role, content, ts}` (ts in epoch ms, no ids).
 * - Python accelerator: hash `session:<id>` with `corememory` (JSON object) and `chat_history`
 *   (JSON: `{agent: [{role, content}]}`, or the older plain list); its legacy list-shaped history
 *   under `<id>:hist` (one `{role, content}` JSON per item).
 */
export const SCHEMA_VERSION = '2';
export const VERSION_FIELD = '_v';

export interface Migration {
  readonly from: 'v1' | 'python';
  readonly context: Record<string, JsonValue>;
  readonly turns: readonly Turn[];
}

/**
 * Rewrites a conversation atomically and only once: it runs only while the context hash still has
 * the version the migrating process saw (none for the Python layout), so two processes loading the
 * same legacy session cannot both migrate it. Returns 1 when it migrated, 0 when someone else did.
 * KEYS: context, history. ARGV: expected version ('' = none), new version, context TTL, history TTL,
 * field-pair count, then field pairs, then turns.
 */
const MIGRATE = `
local v = redis.call('HGET', KEYS[1], '_v')
if ARGV[1] == '' then
  if v or redis.call('LLEN', KEYS[2]) > 0 then return 0 end
elseif v ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], '_v', ARGV[2])
local pairs = tonumber(ARGV[5])
local i = 6
for _ = 1, pairs do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local n = 0
while i <= #ARGV do
  local last = math.min(i + 999, #ARGV)
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, last))
  n = n + (last - i + 1)
  i = last + 1
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
if n > 0 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
return 1`;

export function migrationCommand(
  keys: { context: string; history: string },
  expectedVersion: string,
  migration: Migration,
  ttl: { contextSeconds: number; historySeconds: number },
): Command {
  const fields = Object.entries(encodeFields(migration.context)).flat();
  return {
    op: 'eval',
    script: MIGRATE,
    keys: [keys.context, keys.history],
    args: [expectedVersion, SCHEMA_VERSION, ttl.contextSeconds, ttl.historySeconds, fields.length / 2, ...fields, ...migration.turns.map(encodeTurn)],
  };
}

/** Our v1 layout → v2. */
export function fromV1(contextKey: string, context: Readonly<Record<string, string>>, history: readonly string[]): Migration {
  let data: Record<string, JsonValue> = {};
  if (context.data !== undefined) {
    try {
      data = JSON.parse(context.data) as Record<string, JsonValue>;
    } catch (err) {
      throw new StateFormatError(contextKey, 'v1 context "data" is not JSON', err);
    }
  }
  const turns = history.map((raw, i): Turn => {
    const item = parseMessage(raw);
    const at = typeof item.ts === 'number' ? new Date(item.ts).toISOString() : '';
    return { id: `v1-${i}`, role: role(item.role), content: content(item.content), at, ...roleMeta(item.role) };
  });
  return { from: 'v1', context: data, turns };
}

/**
 * The Python accelerator's layout → v2. `chat_history` wins over the `<id>:hist` list when both are
 * present (the list is the older format the hash replaced). Per-agent threads are concatenated in
 * their stored order, each turn tagged with `meta.agent`: the layout records no interleaving.
 */
export function fromPython(sessionKey: string, session: Readonly<Record<string, string>>, legacyList: readonly string[], now: string): Migration {
  const context: Record<string, JsonValue> = {};
  if (session.corememory) {
    let core: unknown;
    try {
      core = JSON.parse(session.corememory);
    } catch (err) {
      throw new StateFormatError(sessionKey, '"corememory" is not JSON', err);
    }
    if (core && typeof core === 'object' && !Array.isArray(core)) {
      for (const [name, value] of Object.entries(core as Record<string, JsonValue>)) {
        // Our reserved names start with "_"; a legacy field never lands on one.
        context[name.startsWith('_') ? `legacy${name}` : name] = value;
      }
    }
  }
  if (typeof context.active_agent === 'string') context._activeAgent = context.active_agent;

  const messages: { role: unknown; content: unknown; agent?: string }[] = [];
  if (session.chat_history) {
    let hist: unknown;
    try {
      hist = JSON.parse(session.chat_history);
    } catch (err) {
      throw new StateFormatError(sessionKey, '"chat_history" is not JSON', err);
    }
    if (Array.isArray(hist)) for (const m of hist) messages.push(asMessage(m));
    else if (hist && typeof hist === 'object') {
      for (const [agent, thread] of Object.entries(hist as Record<string, unknown>)) {
        if (Array.isArray(thread)) for (const m of thread) messages.push({ ...asMessage(m), agent });
      }
    }
  }
  if (messages.length === 0) for (const raw of legacyList) messages.push(parseMessage(raw));

  const turns = messages.map((m, i): Turn => {
    const meta: Record<string, JsonValue> = { migratedFrom: 'python', ...(m.agent ? { agent: m.agent } : {}), ...roleMeta(m.role).meta };
    return { id: `py-${i}`, role: role(m.role), content: content(m.content), at: now, meta };
  });
  return { from: 'python', context, turns };
}

function parseMessage(raw: string): { role: unknown; content: unknown; ts?: unknown } {
  try {
    const m = JSON.parse(raw) as unknown;
    if (m && typeof m === 'object' && !Array.isArray(m)) return m as { role: unknown; content: unknown };
  } catch {
    // A bare string item: a message with no role recorded.
  }
  return { role: 'user', content: raw };
}

function asMessage(m: unknown): { role: unknown; content: unknown } {
  return m && typeof m === 'object' ? (m as { role: unknown; content: unknown }) : { role: 'user', content: String(m) };
}

const ROLES: readonly TurnRole[] = ['system', 'user', 'assistant', 'tool'];

function role(value: unknown): TurnRole {
  return ROLES.includes(value as TurnRole) ? (value as TurnRole) : 'assistant';
}

function roleMeta(value: unknown): { meta?: Record<string, JsonValue> } {
  return ROLES.includes(value as TurnRole) || value === undefined ? {} : { meta: { legacyRole: String(value) } };
}

function content(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? '');
}
