import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import { StateFormatError } from '../../src/lib/state/errors.js';
import { openSharedStore, randomId, type StoreHandle } from './support/store.js';

let h: StoreHandle;
beforeAll(async () => {
  h = await openSharedStore();
});
afterAll(async () => {
  await h?.close();
});

describe('ConversationManager', () => {
  it('starts empty, persists context and turns, and a fresh manager sees them', async () => {
    // Prepare
    const callId = randomId();
    const cm = await ConversationManager.fromRedis(callId, h.store, { writerId: 'fn' });
    // Act
    cm.updateContext({ user_authenticated: true, account: { id: 'A-1', tier: 'gold' } });
    const t1 = cm.appendToHistory('user', 'Hello');
    cm.appendToHistory('assistant', 'Hi, how can I help?', { latencyMs: 420 });
    const flushed = await cm.flush();
    h.store.memory.clear();
    const again = await ConversationManager.fromRedis(callId, h.store);
    // Assess
    expect(cm.loadInfo.foundLayout).toBe('none');
    expect(flushed).toEqual({ durable: true, turns: 2, fields: 2 });
    expect(t1.id).toMatch(/^fn-/);
    expect(again.loadInfo).toEqual({ foundLayout: 'current', migrated: false, length: 2 });
    expect(again.getContext()).toEqual({ user_authenticated: true, account: { id: 'A-1', tier: 'gold' } });
    expect(again.getHistory().map((t) => [t.role, t.content, t.seq])).toEqual([
      ['user', 'Hello', 0],
      ['assistant', 'Hi, how can I help?', 1],
    ]);
    expect(again.getHistory()[1]?.meta).toEqual({ latencyMs: 420 });
    expect(await h.raw.hget(h.keys.conversation(callId, 'context'), '_v')).toBe('2');
  });

  it('keeps a bounded hot window while readFullHistory pages through every turn', async () => {
    // Prepare
    const callId = randomId();
    const cm = await ConversationManager.fromRedis(callId, h.store, { hotWindow: 5 });
    for (let i = 0; i < 1_203; i++) {
      cm.appendToHistory(i % 2 ? 'assistant' : 'user', `turn ${i}`);
      if (i % 100 === 0) await cm.flush();
    }
    await cm.flush();
    // Act
    const loaded = await ConversationManager.fromRedis(callId, h.store, { hotWindow: 5 });
    const full = await loaded.readFullHistory({ pageSize: 250 });
    // Assess
    expect(loaded.getHistory().map((t) => t.content)).toEqual(['turn 1198', 'turn 1199', 'turn 1200', 'turn 1201', 'turn 1202']);
    expect(loaded.length).toBe(1_203);
    expect(full).toHaveLength(1_203);
    expect(full.map((t) => t.content)).toEqual(Array.from({ length: 1_203 }, (_, i) => `turn ${i}`));
    expect(new Set(full.map((t) => t.id)).size).toBe(1_203);
  });

  it('truncates the agent turn to what was heard: in place before a flush, with a marker after it', async () => {
    // Prepare
    const callId = randomId();
    const cm = await ConversationManager.fromRedis(callId, h.store);
    cm.appendToHistory('user', 'What are your hours?');
    cm.appendToHistory('assistant', 'We are open nine to five on weekdays and ten to two on Saturdays.');
    await cm.flush();
    cm.setBargeIn(true);
    // Act: the caller talked over the agent after "We are open nine to five"
    const truncated = cm.truncateLastAgentTurn('We are open nine to five', { heardMs: 1800 });
    cm.appendToHistory('user', 'And Sundays?');
    cm.appendToHistory('assistant', 'Closed on Sundays.');
    const pending = cm.truncateLastAgentTurn('Closed');
    await cm.flush();
    const reloaded = await ConversationManager.fromRedis(callId, h.store);
    const full = await reloaded.readFullHistory();
    // Assess
    expect(truncated?.content).toBe('We are open nine to five');
    expect(pending?.content).toBe('Closed');
    expect(full.map((t) => t.content)).toEqual(['What are your hours?', 'We are open nine to five', 'And Sundays?', 'Closed']);
    expect(full[1]?.meta).toMatchObject({ truncated: true, heardMs: 1800 });
    expect(reloaded.getHistory().map((t) => t.content)).toEqual(full.map((t) => t.content));
    expect(reloaded.bargeIn).toBe(true);
    expect(await h.raw.llen(h.keys.conversation(callId, 'history'))).toBe(5); // append-only: 4 turns + 1 marker
  });

  it('records the turns\' metadata and the active agent, and keeps the manager\'s own fields out of the context', async () => {
    // Prepare
    const callId = randomId();
    const cm = await ConversationManager.fromRedis(callId, h.store);
    // Act: what the callback path writes with a keypad PIN turn and the agent's answer.
    cm.setActiveAgent('billing');
    const pin = cm.appendToHistory('user', '[PIN]', { redacted: 'pin', via: 'dtmf' });
    cm.appendToHistory('assistant', 'Thank you, you are verified.', { agent: 'billing', kind: 'reply' });
    await cm.flush();
    h.store.memory.clear();
    const reloaded = await ConversationManager.fromRedis(callId, h.store);
    // Assess
    expect(pin).toMatchObject({ role: 'user', meta: { redacted: 'pin', via: 'dtmf' } });
    expect(reloaded.activeAgent).toBe('billing');
    expect(reloaded.getHistory().map((t) => [t.role, t.content, t.meta])).toEqual([
      ['user', '[PIN]', { redacted: 'pin', via: 'dtmf' }],
      ['assistant', 'Thank you, you are verified.', { agent: 'billing', kind: 'reply' }],
    ]);
    expect(reloaded.getContext()).toEqual({});
    expect(() => cm.updateContext({ _v: 'x' })).toThrow(RangeError);
  });
});

describe('two writers on one call', () => {
  it('lose nothing: appends interleave whole and in each writer’s order, context merges per field', async () => {
    // Prepare: a second process (its own connection and memory tier) on the same call.
    const other = await openSharedStore({ prefix: h.keys.prefix });
    try {
      const callId = randomId();
      const relay = await ConversationManager.fromRedis(callId, h.store, { writerId: 'relay' });
      const callback = await ConversationManager.fromRedis(callId, other.store, { writerId: 'cb' });
      const turns = 60;

      // Act
      const run = async (cm: ConversationManager, who: string) => {
        for (let i = 0; i < turns; i++) {
          cm.appendToHistory('user', `${who} ${i}`);
          cm.updateContext({ [`${who}_${i % 7}`]: i, [`${who}_last`]: i, shared: `${who} ${i}` });
          await cm.flush();
          if (i % 9 === 0) await new Promise((r) => setImmediate(r));
        }
      };
      await Promise.all([run(relay, 'relay'), run(callback, 'cb')]);
      await relay.refresh();

      // Assess
      const full = await relay.readFullHistory();
      expect(full).toHaveLength(2 * turns);
      expect(new Set(full.map((t) => t.id)).size).toBe(2 * turns);
      for (const who of ['relay', 'cb']) {
        expect(full.filter((t) => t.content.startsWith(`${who} `)).map((t) => t.content)).toEqual(Array.from({ length: turns }, (_, i) => `${who} ${i}`));
      }
      const context = relay.getContext();
      for (const who of ['relay', 'cb']) {
        expect(context[`${who}_last`]).toBe(turns - 1);
        for (let k = 0; k < 7; k++) expect(context[`${who}_${k}`]).toBeTypeOf('number');
      }
      expect(['relay 59', 'cb 59']).toContain(context.shared);
    } finally {
      await other.close();
    }
  });
});

describe('migration on load', () => {
  it('rewrites the Python accelerator’s session hash (corememory + per-agent chat_history) once', async () => {
    // Prepare: the accelerator's exact layout, written raw.
    const id = randomId('py');
    await h.raw.hset(`session:${id}`, {
      corememory: JSON.stringify({ caller_name: 'Ada', active_agent: 'AuthAgent', _internal: 1 }),
      chat_history: JSON.stringify({
        AuthAgent: [
          { role: 'system', content: 'You verify callers.' },
          { role: 'user', content: 'Hi, it is Ada' },
        ],
        ClaimsAgent: [{ role: 'assistant', content: 'Your claim is open.' }],
      }),
    });
    await h.raw.expire(`session:${id}`, 600);
    // Act
    const cm = await ConversationManager.fromRedis(id, h.store);
    const second = await ConversationManager.fromRedis(id, h.store);
    // Assess
    expect(cm.loadInfo).toMatchObject({ foundLayout: 'python', migrated: true, length: 3 });
    expect(second.loadInfo).toMatchObject({ foundLayout: 'current', migrated: false, length: 3 });
    expect(cm.getContext()).toEqual({ caller_name: 'Ada', active_agent: 'AuthAgent', legacy_internal: 1 });
    expect(second.activeAgent).toBe('AuthAgent');
    const full = await second.readFullHistory();
    expect(full.map((t) => [t.role, t.content, t.meta?.agent])).toEqual([
      ['system', 'You verify callers.', 'AuthAgent'],
      ['user', 'Hi, it is Ada', 'AuthAgent'],
      ['assistant', 'Your claim is open.', 'ClaimsAgent'],
    ]);
    expect(await h.raw.exists(`session:${id}`)).toBe(0);
    expect(await h.raw.ttl(h.keys.conversation(id, 'context'))).toBeGreaterThan(0);
    expect(await h.raw.ttl(h.keys.conversation(id, 'history'))).toBeGreaterThan(0);
  });

  it('rewrites the list-shaped chat_history and the legacy <id>:hist list', async () => {
    // Prepare
    const listShaped = randomId('py');
    await h.raw.hset(`session:${listShaped}`, { corememory: '{}', chat_history: JSON.stringify([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }]) });
    const histOnly = randomId('py');
    await h.raw.rpush(`${histOnly}:hist`, JSON.stringify({ role: 'user', content: 'old 1' }), JSON.stringify({ role: 'assistant', content: 'old 2' }), 'bare text');
    await h.raw.hset(`session:${histOnly}`, { corememory: JSON.stringify({ lang: 'de' }) });
    // Act
    const a = await ConversationManager.fromRedis(listShaped, h.store);
    const b = await ConversationManager.fromRedis(histOnly, h.store);
    // Assess
    expect(a.getHistory().map((t) => t.content)).toEqual(['a', 'b']);
    expect(b.getHistory().map((t) => [t.role, t.content])).toEqual([
      ['user', 'old 1'],
      ['assistant', 'old 2'],
      ['user', 'bare text'],
    ]);
    expect(b.getContext()).toEqual({ lang: 'de' });
    // One key per command: the legacy keys hash to different cluster slots.
    expect([await h.raw.exists(`${histOnly}:hist`), await h.raw.exists(`session:${histOnly}`)]).toEqual([0, 0]);
  });

  it('rewrites our own v1 layout (whole-context JSON blob, id-less turns) into v2', async () => {
    // Prepare
    const id = randomId('v1');
    const ctx = h.keys.conversation(id, 'context');
    const hist = h.keys.conversation(id, 'history');
    await h.raw.hset(ctx, { _v: '1', data: JSON.stringify({ intent: 'billing', attempts: 2 }) });
    await h.raw.rpush(hist, JSON.stringify({ role: 'user', content: 'bill?', ts: 1_700_000_000_000 }), JSON.stringify({ role: 'assistant', content: 'sure', ts: 1_700_000_001_000 }));
    // Act
    const cm = await ConversationManager.fromRedis(id, h.store);
    // Assess
    expect(cm.loadInfo).toMatchObject({ foundLayout: 'v1', migrated: true });
    expect(await h.raw.hgetall(ctx)).toEqual({ _v: '2', intent: '"billing"', attempts: '2' });
    const stored = (await h.raw.lrange(hist, 0, -1)).map((s) => JSON.parse(s) as { id: string; at: string });
    expect(stored.map((t) => t.id)).toEqual(['v1-0', 'v1-1']);
    expect(stored[0]?.at).toBe(new Date(1_700_000_000_000).toISOString());
  });

  it('migrates once when two processes load the same legacy session at the same time', async () => {
    // Prepare
    const id = randomId('py');
    await h.raw.hset(`session:${id}`, { chat_history: JSON.stringify([{ role: 'user', content: 'only once' }]) });
    const other = await openSharedStore({ prefix: h.keys.prefix });
    try {
      // Act
      const [a, b] = await Promise.all([ConversationManager.fromRedis(id, h.store), ConversationManager.fromRedis(id, other.store)]);
      // Assess
      expect([a.loadInfo.migrated, b.loadInfo.migrated].filter(Boolean)).toHaveLength(1);
      expect(await h.raw.lrange(h.keys.conversation(id, 'history'), 0, -1)).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('refuses an unknown schema version and corrupt legacy JSON with a typed error', async () => {
    const future = randomId('v9');
    await h.raw.hset(h.keys.conversation(future, 'context'), { _v: '9' });
    await expect(ConversationManager.fromRedis(future, h.store)).rejects.toBeInstanceOf(StateFormatError);
    const corrupt = randomId('py');
    await h.raw.hset(`session:${corrupt}`, { corememory: '{not json' });
    await expect(ConversationManager.fromRedis(corrupt, h.store)).rejects.toBeInstanceOf(StateFormatError);
    await h.raw.del(`session:${corrupt}`);
    await h.raw.del(h.keys.conversation(future, 'context'));
  });
});
