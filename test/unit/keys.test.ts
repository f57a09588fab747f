import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { InvalidEnvironmentError, InvalidIdentifierError, InvalidKeyError } from '../../src/lib/state/errors.js';
import { DATA_TYPES, RedisKeys, resolveTtl, TTL_POLICIES, type Component, type DataType } from '../../src/lib/state/keys.js';

const keys = new RedisKeys('rtvoice', 'prod');

describe('RedisKeys', () => {
  it('follows {prefix}:{env}:{dataType}:{{id}}:{component}', () => {
    expect(keys.call('abc123', 'session')).toBe('rtvoice:prod:call:{abc123}:session');
    expect(keys.conversation('xyz789', 'context')).toBe('rtvoice:prod:conversation:{xyz789}:context');
    expect(keys.conversation('xyz789', 'history')).toBe('rtvoice:prod:conversation:{xyz789}:history');
    expect(keys.worker('worker-001', 'affinity')).toBe('rtvoice:prod:worker:{worker-001}:affinity');
    expect(keys.worker('worker-001', 'heartbeat')).toBe('rtvoice:prod:worker:{worker-001}:heartbeat');
    expect(keys.auth('abc123')).toBe('rtvoice:prod:auth:{abc123}:state');
    expect(keys.tts('9f86d081')).toBe('rtvoice:prod:tts:{9f86d081}:audio');
    expect(keys.call('abc123', 'summary')).toBe('rtvoice:prod:call:{abc123}:summary');
    expect(keys.profile('u-1')).toBe('rtvoice:prod:profile:{u-1}:cache');
    expect(keys.system('relay', 'metrics')).toBe('rtvoice:prod:system:{relay}:metrics');
  });

  it('puts every key of one identifier in the same cluster slot', () => {
    const id = '421f0c00-66a3-4a1e-a0d2-ff1ba0e8a6a5';
    const all = (Object.keys(DATA_TYPES) as DataType[]).flatMap((type) =>
      (DATA_TYPES[type] as readonly Component[]).map((component) => keys.key(type, id, component as never)),
    );
    expect(all.length).toBeGreaterThan(10);
    const slots = new Set(all.map((k) => calculateSlot(k)));
    expect(slots).toEqual(new Set([calculateSlot(id)]));
    // And different ids do spread: the hash tag is the id, not a constant.
    expect(calculateSlot(keys.call('a', 'session'))).not.toBe(calculateSlot(keys.call('b', 'session')));
  });

  it.each([
    ['', 'empty'],
    ['x'.repeat(257), 'longer than 256 characters'],
    ['a:b', "contains ':'"],
    ['a{b', "contains '{'"],
    ['a}b', "contains '}'"],
    ['a b', 'contains whitespace'],
    ['a\tb', 'contains whitespace'],
    ['a\u0000b', 'contains a control character'],
    ['a\u007fb', 'contains a control character'],
  ])('rejects identifier %j (%s) with a typed error naming it', (id, reason) => {
    const attempt = () => keys.call(id, 'session');
    expect(attempt).toThrow(InvalidIdentifierError);
    try {
      attempt();
    } catch (err) {
      expect((err as InvalidIdentifierError).identifier).toBe(id);
      expect((err as InvalidIdentifierError).reason).toBe(reason);
      expect((err as Error).message).toContain(reason);
    }
  });

  it('accepts the identifiers ACS produces (GUIDs, base64 server call ids)', () => {
    expect(() => keys.call('aHR0cHM6Ly9hcGkuZmxpZ2h0cHJveHkuc2t5cGUuY29tL2FwaS92Mi9jcC9jb252LXVzd2UtMDE_i=/+', 'session')).not.toThrow();
  });

  it('validates the environment and prefix', () => {
    expect(() => new RedisKeys('rtvoice', 'production' as never)).toThrow(InvalidEnvironmentError);
    expect(() => new RedisKeys('Bad:Prefix', 'dev')).toThrow(InvalidKeyError);
    for (const env of ['dev', 'test', 'staging', 'prod'] as const) expect(new RedisKeys('rtvoice', env).env).toBe(env);
  });

  it('rejects a component that does not belong to the data type', () => {
    expect(() => keys.key('call', 'abc', 'history' as never)).toThrow(InvalidKeyError);
  });

  it('parses keys back into their parts, for SCAN tooling', () => {
    const key = keys.call('abc123', 'session');
    expect(RedisKeys.parse(key)).toEqual({ prefix: 'rtvoice', env: 'prod', dataType: 'call', id: 'abc123', component: 'session' });
    expect(() => RedisKeys.parse('session:abc')).toThrow(InvalidKeyError);
    expect(() => RedisKeys.parse('rtvoice:prod:call:{abc}:bogus')).toThrow(InvalidKeyError);
    expect(() => RedisKeys.parse('rtvoice:live:call:{abc}:session')).toThrow(InvalidEnvironmentError);
  });
});

describe('TTL policies', () => {
  it('never go below the source document’s five values', () => {
    expect(TTL_POLICIES.conversation_context.defaultSeconds).toBeGreaterThanOrEqual(1800);
    expect(TTL_POLICIES.session_history.defaultSeconds).toBeGreaterThanOrEqual(7200);
    expect(TTL_POLICIES.authentication_state.defaultSeconds).toBeGreaterThanOrEqual(900);
    expect(TTL_POLICIES.tts_cache.defaultSeconds).toBeGreaterThanOrEqual(86400);
    expect(TTL_POLICIES.call_summary.defaultSeconds).toBeGreaterThanOrEqual(604800);
  });

  it('match docs/data-model.md', () => {
    const defaults = Object.fromEntries(Object.entries(TTL_POLICIES).map(([k, p]) => [k, p.defaultSeconds]));
    expect(defaults).toMatchObject({
      conversation_context: 1800, session_history: 7200, authentication_state: 900, tts_cache: 86400,
      call_summary: 604800, call_session: 7200, worker_heartbeat: 30, worker_affinity: 60, user_profile_cache: 3600,
    });
  });

  it('clamp per-call overrides to the policy bounds', () => {
    expect(resolveTtl('conversation_context')).toBe(1800);
    expect(resolveTtl('conversation_context', 10)).toBe(TTL_POLICIES.conversation_context.minSeconds);
    expect(resolveTtl('conversation_context', 10 ** 9)).toBe(TTL_POLICIES.conversation_context.maxSeconds);
    expect(resolveTtl('conversation_context', 2400.4)).toBe(2400);
    expect(resolveTtl('worker_heartbeat', Number.NaN)).toBe(30);
    expect(keys.ttl('call', 'summary')).toBe(604800);
    expect(keys.ttl('worker', 'heartbeat', 1)).toBe(TTL_POLICIES.worker_heartbeat.minSeconds);
  });

  it('cover every key kind', () => {
    for (const type of Object.keys(DATA_TYPES) as DataType[]) {
      for (const component of DATA_TYPES[type] as readonly Component[]) {
        expect(keys.ttl(type, component as never)).toBeGreaterThan(0);
      }
    }
  });
});

// The Python accelerator's keys (`session:<id>`, `<id>:hist`) are read and rewritten by the
// conversation's load: test/state/conversation.test.ts ("rewrites the Python accelerator's …").
