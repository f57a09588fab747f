import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentCatalog, type AgentCatalog } from '../../src/lib/agents/loader.js';
import { ScenarioResponder } from '../../src/lib/agents/offline-responder.js';
import type { VerificationSettings } from '../../src/lib/agents/schema.js';
import { ToolRunner } from '../../src/lib/agents/tools.js';
import { CallerVerification, hashPin, pinMatches, type VerificationAuditEntry } from '../../src/lib/agents/verification.js';
import { AuthStates } from '../../src/lib/state/auth-states.js';
import { TTL_POLICIES } from '../../src/lib/state/keys.js';
import { openSharedStore, randomId, type StoreHandle } from '../state/support/store.js';
import { httpServer, recordingLogger } from './support.js';

const PIN = '4321';
const SETTINGS: VerificationSettings = {
  method: 'pin',
  pinDigits: 4,
  maxAttempts: 3,
  verifiedForSeconds: 900,
  prompts: { askPin: 'a', verified: 'v', wrongPin: 'w', lockedOut: 'l', noProfile: 'n' },
};

let h: StoreHandle;
let other: StoreHandle;
let pinHash: string;
beforeAll(async () => {
  // On the run's topology: a single node, or a Redis Cluster (REDIS_TOPOLOGY=cluster).
  h = await openSharedStore();
  // A second store on the same prefix, with its own connection: another instance (a relay that took over).
  other = await openSharedStore({ prefix: h.keys.prefix });
  pinHash = await hashPin(PIN);
});
afterAll(async () => {
  await h?.close();
  await other?.close();
});

function verifier(store = h.store, now?: () => Date) {
  const audit: VerificationAuditEntry[] = [];
  const { logger, lines } = recordingLogger();
  const verification = new CallerVerification({
    store: new AuthStates(store),
    audit: async (entry) => {
      audit.push(entry);
    },
    pinHashFor: async (userId) => (userId === 'caller-1' ? pinHash : undefined),
    logger,
    ...(now ? { now } : {}),
  });
  return { verification, audit, lines };
}

describe('caller verification', () => {
  it('locks the call out after N wrong PINs, and then refuses even the right one', async () => {
    // Prepare
    const callId = randomId();
    const { verification, audit, lines } = verifier();
    // Act
    const results = [];
    for (const pin of ['1111', '2222', '3333', PIN]) results.push(await verification.verifyPin(callId, 'caller-1', pin, SETTINGS));
    // Assess
    expect(results).toEqual(['wrong_pin', 'wrong_pin', 'locked_out', 'locked_out']);
    expect(await verification.isVerified(callId)).toBe(false);
    const stored = JSON.parse((await h.raw.get(h.keys.auth(callId)))!) as Record<string, unknown>;
    expect(stored).toEqual({ attempts: 3, lockedOut: true });
    const ttl = await h.raw.ttl(h.keys.auth(callId));
    expect(ttl).toBeGreaterThan(TTL_POLICIES.authentication_state.defaultSeconds - 5);
    expect(ttl).toBeLessThanOrEqual(TTL_POLICIES.authentication_state.defaultSeconds);
    expect(audit.map((a) => a.details.result)).toEqual(['wrong_pin', 'wrong_pin', 'locked_out', 'locked_out']);
    const written = JSON.stringify(audit) + lines.join('\n') + JSON.stringify(stored);
    for (const pin of ['1111', '2222', '3333', PIN]) expect(written).not.toContain(pin);
  });

  it('never counts more than N attempts when wrong PINs arrive at once on two instances, and stays locked out', async () => {
    // Prepare
    const callId = randomId();
    const here = verifier(h.store);
    const there = verifier(other.store);
    const wrongPins = Array.from({ length: 12 }, (_, i) => String(1000 + i));
    // Act: every attempt reads the state before any has written it back.
    const results = await Promise.all(wrongPins.map((pin, i) => (i % 2 === 0 ? here : there).verification.verifyPin(callId, 'caller-1', pin, SETTINGS)));
    const rightPinAfterwards = await here.verification.verifyPin(callId, 'caller-1', PIN, SETTINGS);
    // Assess
    const stored = JSON.parse((await h.raw.get(h.keys.auth(callId)))!) as Record<string, unknown>;
    expect(stored).toEqual({ attempts: SETTINGS.maxAttempts, lockedOut: true });
    expect(results.filter((r) => r === 'wrong_pin').length).toBeLessThan(SETTINGS.maxAttempts);
    expect(results.every((r) => r === 'wrong_pin' || r === 'locked_out')).toBe(true);
    expect(rightPinAfterwards).toBe('locked_out');
    expect(await there.verification.isVerified(callId)).toBe(false);
    const audited = [...here.audit, ...there.audit];
    expect(audited).toHaveLength(wrongPins.length + 1);
    expect(Math.max(...audited.map((a) => Number(a.details.attempt)))).toBe(SETTINGS.maxAttempts);
  });

  it('verifies the right PIN, and another instance on the same Redis sees it (failover)', async () => {
    const callId = randomId();
    const { verification } = verifier();
    expect(await verification.verifyPin(callId, 'caller-1', PIN, SETTINGS)).toBe('verified');
    h.store.memory.clear();
    const afterFailover = verifier(other.store).verification;
    expect(await afterFailover.isVerified(callId)).toBe(true);
    expect(await afterFailover.isVerified(randomId())).toBe(false);
  });

  it('forgets the verification when its key expires with the authentication_state TTL', async () => {
    const callId = randomId();
    const { verification } = verifier();
    await verification.verifyPin(callId, 'caller-1', PIN, SETTINGS);
    expect(await verification.isVerified(callId)).toBe(true);
    // The TTL running out, shortened: the key is what expires, not a clock in our code.
    await h.raw.pexpire(h.keys.auth(callId), 30);
    await new Promise((resolve) => setTimeout(resolve, 80));
    h.store.memory.clear();
    expect(await h.raw.exists(h.keys.auth(callId))).toBe(0);
    expect(await verifier(other.store).verification.isVerified(callId)).toBe(false);
  });

  it('ends a verification at verified-until even while the key lives', async () => {
    const callId = randomId();
    let now = new Date('2026-01-01T10:00:00Z');
    const { verification } = verifier(h.store, () => now);
    await verification.verifyPin(callId, 'caller-1', PIN, { ...SETTINGS, verifiedForSeconds: 120 });
    expect(await verification.isVerified(callId)).toBe(true);
    now = new Date('2026-01-01T10:02:01Z');
    expect(await verification.isVerified(callId)).toBe(false);
  });

  it('cannot verify a caller without a PIN on file, and says so', async () => {
    const { verification, audit } = verifier();
    expect(await verification.verifyPin(randomId(), 'someone-else', PIN, SETTINGS)).toBe('no_pin_on_file');
    expect(await verification.verifyPin(randomId(), undefined, PIN, SETTINGS)).toBe('no_pin_on_file');
    expect(audit).toHaveLength(2);
  });

  it('keeps a salted hash, never the PIN', async () => {
    const a = await hashPin(PIN);
    const b = await hashPin(PIN);
    expect(a).not.toBe(b);
    expect(a).not.toContain(PIN);
    expect(await pinMatches(PIN, a)).toBe(true);
    expect(await pinMatches('4322', a)).toBe(false);
    expect(await pinMatches(PIN, 'plain:4321')).toBe(false);
  });
});

describe('tools that need a verified caller', () => {
  let claims: Awaited<ReturnType<typeof httpServer>>;
  let catalog: AgentCatalog;
  beforeAll(async () => {
    claims = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'approved', detail: 'Paid soon.' }));
    });
    catalog = await loadAgentCatalog(path.resolve(import.meta.dirname, '../../agents'), { settings: { CLAIMS_API_URL: claims.url, TRANSFER_TARGET_NUMBER: '+15550100999' } });
  });
  afterAll(async () => claims?.close());

  it('are refused aloud until the caller is verified, then run', async () => {
    // Prepare
    const callId = randomId();
    const { verification, lines } = verifier();
    const { logger } = recordingLogger();
    const responder = new ScenarioResponder({ catalog, tools: new ToolRunner({ verification, logger }), verification });
    const ask = { callId, history: [{ role: 'assistant' as const, text: 'Welcome' }], userText: 'What is the status of claim 100234?', context: { userId: 'caller-1' }, scenario: 'insurance' };
    // Act
    const refused = await responder.respond(ask);
    const requestsWhileUnverified = claims.requests.length;
    const verified = await responder.respond({ ...ask, userText: 'four three two one' });
    const answered = await responder.respond({ ...ask, activeAgent: verified.activeAgent });
    // Assess
    expect(refused.text).toBe("I can help with that once you're verified. Please enter your four-digit PIN on the keypad.");
    expect(refused.toolCalls).toEqual([expect.objectContaining({ name: 'claim_status', status: 'refused', refused: 'verification_required' })]);
    expect(requestsWhileUnverified).toBe(0);
    expect(verified.activeAgent).toBe('claims');
    expect(verified.text).toBe("Thank you, you're verified. I'm passing you to our claims specialist now. How can I help with your claim today?");
    expect(answered.text).toBe('Claim 100234 is approved. Paid soon.');
    expect(claims.requests.map((r) => r.url)).toEqual(['/claims/100234']);
    expect(lines.join('\n')).not.toContain(PIN);
  });
});
