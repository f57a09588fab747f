import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentCatalog, type AgentCatalog } from '../../src/lib/agents/index.js';
import { playConversation } from '../../emulators/agent-conversations.js';
import { startClaimsApi, type ClaimsApi } from '../../emulators/claims-api.js';
import { DEMO_TRANSFER_NUMBER, startOfflineStack, type OfflineStack } from '../../emulators/offline-stack.js';
import { quietLogger } from '../../src/lib/telemetry/logger.js';

/**
 * The sample scenarios' scripted conversations, as phone calls through the real function handlers
 * on the offline stack (ACS emulator, dev host, Redis, embedded Cosmos, the claims mock over HTTP).
 */

let claims: ClaimsApi;
let stack: OfflineStack;
let catalog: AgentCatalog;
beforeAll(async () => {
  claims = await startClaimsApi();
  const env = { CLAIMS_API_URL: claims.url };
  catalog = await loadAgentCatalog('agents', { settings: { ...env, TRANSFER_TARGET_NUMBER: DEMO_TRANSFER_NUMBER } });
  stack = await startOfflineStack({ env, acs: { speechMsPerChar: 1 }, logger: quietLogger });
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await claims?.close();
});

describe.each(['support', 'insurance'])('scenario %s on the recognize/play path', (name) => {
  it('passes every scripted conversation', { timeout: 120_000 }, async () => {
    const loaded = catalog.scenario(name)!;
    expect(loaded.scenario.tests.length).toBeGreaterThan(0);
    for (const test of loaded.scenario.tests) {
      const result = await playConversation(stack, catalog, loaded, test);
      expect({ test: test.name, failures: result.failures }).toEqual({ test: test.name, failures: [] });
    }
  });
});

describe('verification on a real call', () => {
  it('audits every attempt without the PIN, and keeps the PIN out of the transcript', { timeout: 60_000 }, async () => {
    const loaded = catalog.scenario('insurance')!;
    const lockout = loaded.scenario.tests.find((t) => t.name.includes('lock'))!;
    const result = await playConversation(stack, catalog, loaded, lockout);
    expect(result.failures).toEqual([]);
    const archive = await stack.runtime.archive();
    const callId = result.callId;
    const audit = await archive.audit.list(callId);
    const attempts = audit.filter((a) => a.action === 'caller_verification');
    expect(attempts.map((a) => a.details?.result)).toEqual(['wrong_pin', 'wrong_pin', 'locked_out']);
    const transcript = await archive.transcripts.read(callId);
    const written = JSON.stringify(audit) + JSON.stringify(transcript);
    for (const pin of ['1111', '2222', '3333', '4321', 'one one', 'two two', 'three three']) expect(written).not.toContain(pin);
    expect(transcript!.turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(Array(3).fill('(a PIN, entered on the keypad)'));
  });
});

describe('analytics per agent and tool', () => {
  it('records the claims tool latency and each agent\'s turn latency', { timeout: 60_000 }, async () => {
    const loaded = catalog.scenario('insurance')!;
    const result = await playConversation(stack, catalog, loaded, loaded.scenario.tests[0]!);
    expect(result.failures).toEqual([]);
    const archive = await stack.runtime.archive();
    const transcript = await archive.transcripts.read(result.callId);
    const analytics = await archive.analytics.get(result.callId, transcript!.header.startedAt.slice(0, 10));
    expect(Object.keys(analytics!.latency)).toEqual(expect.arrayContaining(['tool_claim_status', 'turn_agent_verification', 'turn_agent_claims']));
    expect(transcript!.turns.find((t) => t.meta?.handoffTo === 'claims')?.meta).toMatchObject({ agent: 'verification', handoffTo: 'claims' });
  });
});
