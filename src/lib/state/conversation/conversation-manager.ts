import type { JsonValue, Fields } from '../codec.js';
import { decodeFields } from '../codec.js';
import { WriteBatch, type Command, type Reply } from '../commands.js';
import { RedisUnavailableError, StateFormatError } from '../errors.js';
import type { MemoryTier } from '../memory-tier.js';
import type { RedisKeys } from '../keys.js';
import type { TieredStore } from '../tiered-store.js';
import { fromPython, fromV1, migrationCommand, SCHEMA_VERSION, VERSION_FIELD, type Migration } from './migration.js';
import { decodeTurn, encodeTurn, materialize, TRUNCATION, TurnIds, UNHEARD, type Turn, type TurnRole } from './turns.js';

/**
 * What a conversation needs from the state engine: its keys, tiered reads, detailed writes (the
 * replies say what an append did), Redis-only reads for paging and migration, the memory tier's
 * loads, and the journal of its call. The session store fits; a conversation sees nothing else of it.
 */
export interface ConversationEngine {
  readonly keys: RedisKeys;
  readonly memory: Pick<MemoryTier, 'loadHash' | 'loadListTail' | 'delete'>;
  read: TieredStore['read'];
  writeDetailed: TieredStore['writeDetailed'];
  direct: TieredStore['direct'];
  journaled: TieredStore['journaled'];
  flushJournal: TieredStore['flushJournal'];
  recoverLostState: TieredStore['recoverLostState'];
}

export interface ConversationOptions {
  /** Turns kept in memory and returned by {@link ConversationManager.getHistory}. @default 20 */
  readonly hotWindow?: number;
  /** Tag of this writer in turn ids (e.g. the worker id); random when omitted. */
  readonly writerId?: string;
  /** Look for the Python accelerator's keys when no current layout exists. @default true */
  readonly migrateLegacy?: boolean;
  readonly contextTtlSeconds?: number;
  readonly historyTtlSeconds?: number;
  readonly now?: () => Date;
}

export interface FlushResult {
  /** Redis acknowledged the turn (false: journaled, replayed when Redis is back). */
  readonly durable: boolean;
  readonly turns: number;
  readonly fields: number;
}

export interface LoadInfo {
  /** Which layout the conversation was found in (`none` = new conversation). */
  readonly foundLayout: 'current' | 'v1' | 'python' | 'none';
  readonly migrated: boolean;
  /** Turns in Redis when loaded. */
  readonly length: number;
}

const ACTIVE_AGENT = '_activeAgent';
const BARGE_IN = '_bargeIn';
const HANDLED_EVENTS = '_handled';
/** Events remembered by {@link ConversationManager.recordHandledEvent}; a redelivery comes for a recent one. */
const HANDLED_EVENTS_KEPT = 8;
const isSystemField = (name: string) => name.startsWith('_');

/**
 * One conversation's context and history, written as one MULTI per turn.
 *
 * Layout: context = Redis hash, one JSON value per field plus a schema version (`_v`); history =
 * Redis list of turn JSON, append-only. Changes are staged in memory and {@link flush} writes them
 * in one round trip: RPUSH of the new turns, HSET of the changed fields only, EXPIRE of both keys.
 * The bytes written per turn therefore do not depend on the conversation's length.
 *
 * Two writers on one call (a callback function and the media relay): appends never conflict (each
 * RPUSH lands whole, in arrival order) and context writes merge per field (each flush sets only the
 * fields it changed; the same field written by both = last write at Redis wins). {@link refresh}
 * pulls the other writer's fields and turns.
 *
 * @example
 * const cm = await ConversationManager.fromRedis(callId, store, { writerId: workerId });
 * cm.updateContext({ user_authenticated: true });
 * cm.appendToHistory('user', 'Hello');
 * cm.appendToHistory('assistant', 'Hi, how can I help?');
 * await cm.flush(); // one MULTI
 */
export class ConversationManager {
  private context: Record<string, JsonValue>;
  private hot: Turn[];
  private pendingTurns: Turn[] = [];
  private pendingFields: Record<string, string> = {};
  private knownLength: number;
  private readonly ids: TurnIds;
  private readonly hotWindow: number;
  private readonly now: () => Date;
  private readonly contextKey: string;
  private readonly historyKey: string;
  private readonly contextTtl: number;
  private readonly historyTtl: number;

  private constructor(
    readonly sessionId: string,
    private readonly store: ConversationEngine,
    options: ConversationOptions,
    loaded: { context: Record<string, JsonValue>; turns: Turn[]; length: number },
    readonly loadInfo: LoadInfo,
  ) {
    this.hotWindow = options.hotWindow ?? 20;
    this.ids = new TurnIds(options.writerId);
    this.now = options.now ?? (() => new Date());
    this.contextKey = store.keys.conversation(sessionId, 'context');
    this.historyKey = store.keys.conversation(sessionId, 'history');
    this.contextTtl = store.keys.ttl('conversation', 'context', options.contextTtlSeconds);
    this.historyTtl = store.keys.ttl('conversation', 'history', options.historyTtlSeconds);
    this.context = loaded.context;
    this.hot = loaded.turns.slice(-this.hotWindow);
    this.knownLength = loaded.length;
  }

  /**
   * Loads (one pipeline: context, hot window, length) and migrates legacy layouts once.
   * While Redis is away it starts from what the memory tier holds; when memory holds nothing it
   * throws `RedisUnavailableError` (never an empty conversation for a call that may have turns).
   */
  static async fromRedis(sessionId: string, store: ConversationEngine, options: ConversationOptions = {}): Promise<ConversationManager> {
    const hotWindow = options.hotWindow ?? 20;
    const keys = { context: store.keys.conversation(sessionId, 'context'), history: store.keys.conversation(sessionId, 'history') };
    const ttl = {
      contextSeconds: store.keys.ttl('conversation', 'context', options.contextTtlSeconds),
      historySeconds: store.keys.ttl('conversation', 'history', options.historyTtlSeconds),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const raw = await readCurrent(store, sessionId, keys, hotWindow, ttl);
      const version = raw.context[VERSION_FIELD];
      if (version === SCHEMA_VERSION || (version === undefined && (Object.keys(raw.context).length > 0 || raw.length > 0))) {
        return new ConversationManager(sessionId, store, options, decodeLoaded(keys.context, raw), { foundLayout: 'current', migrated: false, length: raw.length });
      }
      let migration: Migration | undefined;
      let expected = '';
      let legacyKeys: string[] = [];
      if (version === '1') {
        const [full] = await store.direct('conversation.migrate.read', [{ op: 'lrange', key: keys.history, start: 0, stop: -1 }]);
        migration = fromV1(keys.context, raw.context, full as string[]);
        expected = '1';
      } else if (version !== undefined) {
        throw new StateFormatError(keys.context, `unknown schema version ${JSON.stringify(version)}`);
      } else if (options.migrateLegacy ?? true) {
        const legacy = await readPython(store, sessionId);
        if (legacy) {
          migration = fromPython(legacy.keys[0] as string, legacy.session, legacy.list, (options.now?.() ?? new Date()).toISOString());
          legacyKeys = legacy.keys;
        }
      }
      if (!migration) {
        return new ConversationManager(sessionId, store, options, { context: {}, turns: [], length: 0 }, { foundLayout: 'none', migrated: false, length: 0 });
      }
      const [applied] = await store.direct('conversation.migrate', [migrationCommand(keys, expected, migration, ttl)]);
      if (applied !== 1) continue; // another process migrated it first: load what it wrote
      // The legacy keys live outside our hash tag (another cluster slot): one DEL each, after the rewrite.
      for (const key of legacyKeys) await store.direct('conversation.migrate.cleanup', [{ op: 'del', keys: [key] }]);
      store.memory.delete(keys.context);
      store.memory.delete(keys.history);
      const turns = migration.turns.map((t, i) => ({ ...t, seq: i }));
      const context = { ...migration.context };
      return new ConversationManager(sessionId, store, options, { context, turns: materialize(turns), length: turns.length }, {
        foundLayout: migration.from,
        migrated: true,
        length: turns.length,
      });
    }
    throw new StateFormatError(keys.context, 'migration kept racing with another writer');
  }

  // ── context ──────────────────────────────────────────────────────────────────────────────────

  /** Stages field-level changes (undefined values are ignored). */
  updateContext(partial: Fields): void {
    for (const [name, value] of Object.entries(partial)) {
      if (value === undefined) continue;
      if (isSystemField(name)) throw new RangeError(`context field names starting with "_" are reserved: ${name}`);
      this.setField(name, value);
    }
  }

  /** The context without the manager's own fields. */
  getContext(): Readonly<Record<string, JsonValue>> {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(this.context)) if (!isSystemField(k)) out[k] = v;
    return out;
  }

  // ── history ──────────────────────────────────────────────────────────────────────────────────

  /** Stages a turn; it reaches Redis with the next {@link flush}. */
  appendToHistory(role: TurnRole, content: string, meta?: Readonly<Record<string, JsonValue>>): Turn {
    const turn: Turn = meta ? { id: this.ids.next(), role, content, at: this.isoNow(), meta } : { id: this.ids.next(), role, content, at: this.isoNow() };
    this.pendingTurns.push(turn);
    this.hot.push(turn);
    if (this.hot.length > this.hotWindow * 2) this.hot = this.hot.slice(-this.hotWindow);
    return turn;
  }

  /** The hot window: the last `hotWindow` turns, truncations applied. */
  getHistory(): readonly Turn[] {
    return materialize(this.hot).slice(-this.hotWindow);
  }

  /** Turns in Redis as far as this manager knows (its own appends included once flushed). */
  get length(): number {
    return this.knownLength;
  }

  /**
   * Every turn of the conversation from Redis, in order, read in pages (a two-hour call can hold
   * thousands). Writes still journaled for this call are replayed first; if Redis is away this
   * throws `RedisUnavailableError`, because an archive must never be built from part of a call.
   */
  async readFullHistory(options: { pageSize?: number; flushTimeoutMs?: number } = {}): Promise<Turn[]> {
    const pageSize = options.pageSize ?? 500;
    if (this.pendingTurns.length > 0 || Object.keys(this.pendingFields).length > 0) await this.flush();
    if (this.store.journaled(this.sessionId) > 0 && (await this.store.flushJournal(options.flushTimeoutMs)) > 0) {
      throw new RedisUnavailableError('conversation.readFullHistory', new Error('journaled writes not yet replayed'));
    }
    const turns: Turn[] = [];
    for (let start = 0; ; start += pageSize) {
      const [page] = await this.store.direct('conversation.history.page', [{ op: 'lrange', key: this.historyKey, start, stop: start + pageSize - 1 }]);
      const items = page as string[];
      items.forEach((raw, i) => turns.push(decodeTurn(raw, start + i)));
      if (items.length < pageSize) break;
    }
    return materialize(turns);
  }

  // ── voice-agent helpers ──────────────────────────────────────────────────────────────────────

  get activeAgent(): string | undefined {
    const v = this.context[ACTIVE_AGENT];
    return typeof v === 'string' ? v : undefined;
  }

  /** Which agent (persona, skill) is speaking; multi-agent handoffs set it. */
  setActiveAgent(name: string): void {
    this.setField(ACTIVE_AGENT, name);
  }

  get bargeIn(): boolean {
    return this.context[BARGE_IN] === true;
  }

  /** Set while the caller is talking over the agent, so another writer (the callback) can see it. */
  setBargeIn(active: boolean): void {
    this.setField(BARGE_IN, active);
  }

  /**
   * What {@link recordHandledEvent} stored for `eventId`, when this conversation holds it: the event's
   * writes are already in Redis, and a redelivery of it redoes only what follows them.
   */
  handledEvent(eventId: string): JsonValue | undefined {
    const entries = this.context[HANDLED_EVENTS];
    if (!Array.isArray(entries)) return undefined;
    const found = entries.find((entry) => Array.isArray(entry) && entry[0] === eventId);
    return Array.isArray(found) ? found[1] : undefined;
  }

  /**
   * Stages, with the turn's own writes (the same flush, so the same MULTI), that `eventId` has been
   * handled and what has to follow it (`record`). The last few events are kept, bounded, so the bytes
   * a turn writes stay independent of the conversation's length.
   */
  recordHandledEvent(eventId: string, record: JsonValue): void {
    const entries = Array.isArray(this.context[HANDLED_EVENTS]) ? (this.context[HANDLED_EVENTS] as JsonValue[]) : [];
    const kept = entries.filter((entry) => !(Array.isArray(entry) && entry[0] === eventId)).slice(-(HANDLED_EVENTS_KEPT - 1));
    this.setField(HANDLED_EVENTS, [...kept, [eventId, record]]);
  }

  /**
   * Barge-in: the caller heard only `heardContent` of the agent's last turn. A turn not yet flushed
   * is shortened in place; a flushed one gets an appended truncation marker (the history stays
   * append-only), which every read applies. Returns the truncated turn, or undefined if there is no
   * assistant turn in the hot window.
   */
  truncateLastAgentTurn(heardContent: string, options: { heardMs?: number } = {}): Turn | undefined {
    const index = this.hot.findLastIndex((t) => t.role === 'assistant' && t.meta?.kind !== TRUNCATION);
    const target = this.hot[index];
    if (!target) return undefined;
    const heard = { ...(options.heardMs !== undefined ? { heardMs: options.heardMs } : {}) };
    const pendingIndex = this.pendingTurns.indexOf(target);
    if (pendingIndex >= 0) {
      const shortened: Turn = { ...target, content: heardContent, meta: { ...target.meta, truncated: true, ...heard } };
      this.pendingTurns[pendingIndex] = shortened;
      this.hot[index] = shortened;
      return shortened;
    }
    this.appendToHistory('assistant', heardContent, { kind: TRUNCATION, replaces: target.id, ...heard });
    return materialize(this.hot).find((t) => t.id === target.id);
  }

  /**
   * The caller never heard the assistant turn `turnId` (they hung up before it was spoken): an
   * appended marker flags it `unheard` on every read, so the archive does not present it as heard.
   */
  markUnheard(turnId: string): void {
    this.appendToHistory('assistant', '', { kind: UNHEARD, replaces: turnId });
  }

  // ── persistence ──────────────────────────────────────────────────────────────────────────────

  /**
   * Writes the staged turns and fields as one MULTI: RPUSH new turns, HSET changed fields (and the
   * schema version), EXPIRE context and history. One round trip; when Redis is
   * away the write is journaled and replayed later (`durable: false`).
   */
  async flush(): Promise<FlushResult> {
    const turns = this.pendingTurns;
    const fields = this.pendingFields;
    this.pendingTurns = [];
    this.pendingFields = {};
    const batch = new WriteBatch()
      .rpush(this.historyKey, turns.map(encodeTurn), this.historyTtl)
      .hset(this.contextKey, { ...fields, [VERSION_FIELD]: SCHEMA_VERSION }, this.contextTtl);
    const guards = turns.length > 0 ? [{ key: this.historyKey, ids: turns.map((t) => t.id) }] : [];
    let outcome: { durable: boolean; replies: Reply[] };
    try {
      outcome = await this.store.writeDetailed(this.sessionId, 'conversation.flush', batch.commands(), guards);
    } catch (err) {
      // Not sent and not kept (journal full, store closed): stage it again so a later flush retries.
      this.pendingTurns = [...turns, ...this.pendingTurns];
      this.pendingFields = { ...fields, ...this.pendingFields };
      throw err;
    }
    if (turns.length > 0) {
      let lengthAfter = outcome.durable && typeof outcome.replies[0] === 'number' ? outcome.replies[0] : this.knownLength + turns.length;
      // Other writers only lengthen the list: shorter than this manager's own appends left it means
      // Redis lost turns (a failover that dropped acknowledged writes). Rewrite them from memory.
      if (outcome.durable && this.knownLength > 0 && lengthAfter < this.knownLength + turns.length) {
        await this.store.recoverLostState(this.sessionId, 'conversation.flush', [this.historyKey]);
        // The list is now what memory held: all of it, or its tail when the call outgrew memory's window
        // (reported as lost). Its real length is the base for the next append, or every flush would
        // see a short list again and rewrite it.
        const [length] = await this.store.direct('conversation.history.length', [{ op: 'llen', key: this.historyKey }]);
        lengthAfter = Number(length);
      }
      this.assignSeq(turns, lengthAfter);
      this.knownLength = lengthAfter;
    }
    return { durable: outcome.durable, turns: turns.length, fields: Object.keys(fields).length };
  }

  /** Re-reads context and the hot window from Redis (another writer's changes); staged changes stay on top. */
  async refresh(): Promise<void> {
    const keys = { context: this.contextKey, history: this.historyKey };
    const raw = await readCurrent(this.store, this.sessionId, keys, this.hotWindow, { contextSeconds: this.contextTtl, historySeconds: this.historyTtl }, 0);
    const loaded = decodeLoaded(this.contextKey, raw);
    const staged = decodeFields(this.contextKey, this.pendingFields);
    this.context = { ...loaded.context, ...staged };
    this.hot = [...loaded.turns, ...this.pendingTurns].slice(-this.hotWindow);
    this.knownLength = raw.length;
  }

  private lastIso = { ms: Number.NaN, iso: '' };

  /** Two turns per millisecond are common (user + agent); format the time once. */
  private isoNow(): string {
    const d = this.now();
    const ms = d.getTime();
    if (ms !== this.lastIso.ms) this.lastIso = { ms, iso: d.toISOString() };
    return this.lastIso.iso;
  }

  private setField(name: string, value: JsonValue): void {
    this.context[name] = value;
    this.pendingFields[name] = JSON.stringify(value);
  }

  /** Our turns are the last `turns.length` items RPUSH left in the list; mark them in the hot window (in place). */
  private assignSeq(turns: readonly Turn[], lengthAfter: number): void {
    const first = lengthAfter - turns.length;
    for (let i = this.hot.length - 1, found = 0; i >= 0 && found < turns.length; i--) {
      const t = this.hot[i] as Turn;
      const k = turns.indexOf(t);
      if (k >= 0) {
        // Our own turn objects: seq becomes known now, so it is set on them in place.
        (t as { seq?: number }).seq = first + k;
        found++;
      }
    }
  }
}

interface RawConversation {
  readonly context: Record<string, string>;
  readonly tail: string[];
  readonly length: number;
}

async function readCurrent(
  store: ConversationEngine,
  sessionId: string,
  keys: { context: string; history: string },
  hotWindow: number,
  ttl: { contextSeconds: number; historySeconds: number },
  l1MaxAgeMs?: number,
): Promise<RawConversation> {
  const commands: Command[] = [
    { op: 'hgetall', key: keys.context },
    { op: 'lrange', key: keys.history, start: -hotWindow, stop: -1 },
    { op: 'llen', key: keys.history },
  ];
  // Redis away and nothing held: RedisUnavailableError. An empty conversation would be a guess, and
  // finalisation would archive it; the caller retries, or goes on knowing the history is unknown.
  const [context, tail, length] = await store.read(
    sessionId,
    'conversation.load',
    commands,
    ([c, t, n]) => {
      store.memory.loadHash(keys.context, c as Record<string, string>, ttl.contextSeconds);
      store.memory.loadListTail(keys.history, t as string[], n as number, ttl.historySeconds);
    },
    l1MaxAgeMs === undefined ? {} : { l1MaxAgeMs },
  );
  return { context: context as Record<string, string>, tail: tail as string[], length: length as number };
}

function decodeLoaded(contextKey: string, raw: RawConversation): { context: Record<string, JsonValue>; turns: Turn[]; length: number } {
  const context = decodeFields(contextKey, raw.context, (name) => name === VERSION_FIELD);
  const first = raw.length - raw.tail.length;
  const turns = materialize(raw.tail.map((t, i) => decodeTurn(t, first + i)));
  return { context, turns, length: raw.length };
}

/** The Python accelerator's keys for a session, when any exists (two commands: they live in other slots). */
async function readPython(store: ConversationEngine, sessionId: string): Promise<{ session: Record<string, string>; list: string[]; keys: string[] } | undefined> {
  const sessionKey = `session:${sessionId}`;
  const listKey = `${sessionId}:hist`;
  try {
    const [[session], [list]] = await Promise.all([
      store.direct('conversation.legacy.read', [{ op: 'hgetall', key: sessionKey }]),
      store.direct('conversation.legacy.read', [{ op: 'lrange', key: listKey, start: 0, stop: -1 }]),
    ]);
    const hash = session as Record<string, string>;
    const items = list as string[];
    if (Object.keys(hash).length === 0 && items.length === 0) return undefined;
    return { session: hash, list: items, keys: [sessionKey, listKey] };
  } catch (err) {
    if (err instanceof RedisUnavailableError) return undefined;
    throw err;
  }
}
