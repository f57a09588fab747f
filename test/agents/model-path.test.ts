import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { AuthStates } from '../../src/lib/state/auth-states.js';
import { AzureOpenAIChatAgent } from '../../src/lib/agent/azure-openai.js';
import { createScenarioResponder, loadAgentCatalog, type AgentCatalog } from '../../src/lib/agents/index.js';
import { hashPin } from '../../src/lib/agents/verification.js';
import { AzureOpenAIStandIn, textReply, toolCallReply } from '../agent/aoai-server.js';
import { openStore, randomId, type StoreHandle } from '../state/support/store.js';
import { httpServer, recordingLogger } from './support.js';

// Azure OpenAI cannot run offline: the stand-in speaks its chat-completions wire format and the real
// `openai` SDK talks to it. The claims system is a real local HTTP server; verification state is in Redis.

const TRANSFER = '+15550100999';
let aoai: AzureOpenAIStandIn;
let claims: Awaited<ReturnType<typeof httpServer>>;
let h: StoreHandle;
let catalog: AgentCatalog;
let pinHash: string;
beforeAll(async () => {
  aoai = await AzureOpenAIStandIn.start();
  claims = await httpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ claimNumber: req.url?.split('/').at(-1), status: 'approved', detail: 'Paid Friday.' }));
  });
  h = await openStore(inject('redisPort'));
  catalog = await loadAgentCatalog(path.resolve(import.meta.dirname, '../../agents'), { settings: { CLAIMS_API_URL: claims.url, TRANSFER_TARGET_NUMBER: TRANSFER } });
  pinHash = await hashPin('4321');
});
afterAll(async () => {
  await aoai?.close();
  await claims?.close();
  await h?.close();
});
afterEach(() => aoai.reset());

function modelAgent() {
  const { logger, lines } = recordingLogger();
  const bound = createScenarioResponder({ catalog, store: new AuthStates(h.store), audit: async () => undefined, pinHashFor: async () => pinHash, logger });
  const agent = new AzureOpenAIChatAgent({
    endpoint: aoai.endpoint,
    deployment: 'chat',
    apiVersion: '2025-04-01-preview',
    apiKey: 'test-key',
    maxRetries: 0,
    definitions: { catalog, tools: bound.tools, responder: bound.responder },
  });
  return { agent, lines };
}

const names = (request: { body: { tools: { function: { name: string } }[] } }) => request.body.tools.map((t) => t.function.name);

describe('the model speaks as the active agent of the definition', () => {
  it('uses the scenario agent\'s prompt and tools, verifies a PIN without the model, and hands off', async () => {
    // Prepare
    const { agent, lines } = modelAgent();
    const callId = randomId();
    const base = { callId, history: [{ role: 'assistant' as const, text: 'Welcome to Fabrikam Insurance claims.' }], context: { userId: 'u1' }, scenario: 'insurance' };
    aoai.script(textReply('I can check that once you are verified.'));
    // Act
    const unverified = await agent.respond({ ...base, userText: 'What about claim 100234?' });
    const pinTurn = await agent.respond({ ...base, userText: 'four three two one' });
    aoai.script(toolCallReply('claim_status', ['{"claimNumber":"100234"}']), textReply('Your claim 100234 is approved and paid Friday.'));
    const answered = await agent.respond({ ...base, activeAgent: pinTurn.activeAgent, userText: 'What about claim 100234?' });
    // Assess
    const [first, second, third] = aoai.requests;
    expect(first!.body.messages[0].content).toContain("You are the voice assistant of Fabrikam Insurance's claims line.");
    expect(names(first!)).toEqual(['end_call', 'transfer_to_human', 'claim_status']);
    expect(unverified.text).toBe('I can check that once you are verified.');
    // The PIN turn never went to the model.
    expect(aoai.requests).toHaveLength(3);
    expect(JSON.stringify(aoai.requests.map((r) => r.body))).not.toMatch(/four three two one|4321/);
    expect(pinTurn.activeAgent).toBe('claims');
    expect(pinTurn.text).toContain("Thank you, you're verified.");
    expect(second!.body.messages[0].content).toContain('You are a claims specialist at Fabrikam Insurance');
    expect(names(second!)).toEqual(['end_call', 'transfer_to_human', 'claim_status', 'handoff_to_verification']);
    expect(JSON.parse(third!.body.messages.at(-1).content)).toMatchObject({ status: 'approved' });
    expect(answered.text).toBe('Your claim 100234 is approved and paid Friday.');
    expect(answered.toolCalls).toEqual([expect.objectContaining({ name: 'claim_status', status: 'ok' })]);
    expect(lines.join('\n')).not.toContain('4321');
  });

  it('refuses a protected tool for an unverified caller and tells the model what to say', async () => {
    const { agent } = modelAgent();
    aoai.script(toolCallReply('claim_status', ['{"claimNumber":"100234"}']), textReply('Please enter your PIN first.'));
    const reply = await agent.respond({ callId: randomId(), history: [], userText: 'claim 100234?', context: {}, scenario: 'insurance', activeAgent: 'claims' });
    expect(reply.toolCalls).toEqual([expect.objectContaining({ name: 'claim_status', status: 'refused', refused: 'verification_required' })]);
    expect(JSON.parse(aoai.requests[1]!.body.messages.at(-1).content)).toMatchObject({ error: 'caller_not_verified' });
    expect(claims.requests).toHaveLength(1); // only the first test's verified lookup
  });

  it('transfers to the scenario\'s number and announces a handoff the model chose', async () => {
    const { agent } = modelAgent();
    aoai.script(toolCallReply('transfer_to_human', ['{"reason":"x","target":"+19005550000"}'], 'Connecting you.'));
    const transfer = await agent.respond({ callId: randomId(), history: [], userText: 'a person at +19005550000', context: {}, scenario: 'insurance', activeAgent: 'claims' });
    expect(transfer.toolCalls).toEqual([expect.objectContaining({ name: 'transfer_to_human', targetNumber: TRANSFER })]);
    aoai.script(toolCallReply('handoff_to_verification', ['{}']));
    const handoff = await agent.respond({ callId: randomId(), history: [], userText: 'I need to verify again', context: {}, scenario: 'insurance', activeAgent: 'claims' });
    expect(handoff.activeAgent).toBe('verification');
    expect(handoff.toolCalls).toEqual([expect.objectContaining({ name: 'handoff', to: 'verification', mode: 'discreet' })]);
    expect(handoff.text).toBe('Welcome to Fabrikam Insurance claims. For your security, please enter your four-digit PIN on the keypad.');
  });
});
