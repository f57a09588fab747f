import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentCatalog, type AgentCatalog } from '../../src/lib/agents/index.js';
import { playConversation, startConversationStack } from '../../emulators/agent-conversations.js';
import { startClaimsApi, type ClaimsApi } from '../../emulators/claims-api.js';
import { DEMO_TRANSFER_NUMBER, type OfflineStack } from '../../emulators/offline-stack.js';
import { quietLogger } from '../../src/lib/telemetry/logger.js';

/**
 * The sample scenarios' scripted conversations on the media path: the caller speaks and keys on the
 * ACS media socket, Web PubSub carries it to a relay, and the realtime emulator answers as the
 * definitions do; the expectations are the same as on the recognize/play path.
 */

let claims: ClaimsApi;
let stack: OfflineStack;
let catalog: AgentCatalog;
beforeAll(async () => {
  claims = await startClaimsApi();
  const env = { CLAIMS_API_URL: claims.url, LOG_LEVEL: 'error' };
  catalog = await loadAgentCatalog('agents', { settings: { ...env, TRANSFER_TARGET_NUMBER: DEMO_TRANSFER_NUMBER } });
  stack = await startConversationStack(catalog, 'media', { env, speechMsPerChar: 1, logger: quietLogger });
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await claims?.close();
});

describe.each(['support', 'insurance'])('scenario %s on the media path', (name) => {
  it('passes every scripted conversation', { timeout: 180_000 }, async () => {
    const loaded = catalog.scenario(name)!;
    expect(loaded.scenario.tests.length).toBeGreaterThan(0);
    for (const test of loaded.scenario.tests) {
      const result = await playConversation(stack, catalog, loaded, test);
      expect(result.path).toBe('media');
      expect({ test: test.name, failures: result.failures }).toEqual({ test: test.name, failures: [] });
    }
  });
});
