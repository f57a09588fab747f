import { describe, expect, it } from 'vitest';
import {
  AgentError,
  createChatAgent,
  goodbyePrompt,
  greetingPrompt,
  repromptPrompt,
  transferHoldPrompt,
  type AgentReply,
  type CallerProfile,
  type ChatAgent,
  type Turn,
} from '../../src/lib/agent/index.js';
import { builtInResponder } from '../../src/lib/agents/built-in.js';
import { ScenarioResponder } from '../../src/lib/agents/offline-responder.js';
import { quietLogger } from '../../src/lib/telemetry/logger.js';

const TRANSFER_TO = '+15550100777';
const profiles = new Map<string, CallerProfile>([['user-ana', { userId: 'user-ana', displayName: 'Ana', callCount: 2 }]]);
const lookupProfile = async (userId: string) => profiles.get(userId);

/** The support line the package ships (agents/support), as an app without definitions of its own runs it. */
function supportAgent(settings: { transferTargetNumber?: string; lookupProfile?: typeof lookupProfile } = {}): ChatAgent {
  return builtInResponder({ ...settings, logger: quietLogger });
}

/** Plays a caller script through the agent the way the callback handler does: history grows turn by turn. */
async function converse(agent: ChatAgent, utterances: readonly string[], context: Record<string, unknown> = {}) {
  const history: Turn[] = [];
  const replies: AgentReply[] = [];
  for (const userText of ['', ...utterances]) {
    const reply = await agent.respond({ callId: 'call-1', history: [...history], userText, context });
    replies.push(reply);
    if (history.length > 0 || userText !== '') history.push({ role: 'user', text: userText });
    history.push({ role: 'assistant', text: reply.text });
  }
  return replies;
}

describe('the built-in support agent, offline', () => {
  it('holds a sensible multi-turn conversation and ends it on goodbye', async () => {
    // Prepare
    const agent = supportAgent({ transferTargetNumber: TRANSFER_TO, lookupProfile });
    // Act
    const replies = await converse(agent, ['Hi, what are your opening hours?', 'And where is my order?', 'I have a question about my bill', "Thanks, that's all. Bye!"]);
    // Assess
    expect(replies.map((r) => r.text)).toEqual([
      greetingPrompt(),
      expect.stringMatching(/^About our opening hours: We're open Monday to Friday/),
      expect.stringMatching(/^About your order: Orders usually ship/),
      expect.stringMatching(/^About billing: Invoices/),
      goodbyePrompt(),
    ]);
    expect(replies.slice(0, 4).every((r) => r.toolCalls.length === 0)).toBe(true);
    expect(replies[4]!.toolCalls).toEqual([{ id: 'offline-end_call-7', name: 'end_call', reason: 'caller said goodbye' }]);
  });

  it('welcomes a returning caller back by name through the injected profile lookup', async () => {
    // Prepare
    const agent = supportAgent({ lookupProfile });
    // Act
    const known = await agent.respond({ callId: 'c', history: [], userText: '', context: { userId: 'user-ana' } });
    const unknown = await agent.respond({ callId: 'c', history: [], userText: '', context: { userId: 'user-new' } });
    // Assess
    expect(known.text).toBe('Welcome back, Ana! Thanks for calling Contoso again. How can I help you today?');
    expect(known.toolCalls).toEqual([{ id: 'offline-lookup_profile-0', name: 'lookup_profile', found: true }]);
    expect(unknown.text).toBe(greetingPrompt());
    expect(unknown.toolCalls).toEqual([{ id: 'offline-lookup_profile-0', name: 'lookup_profile', found: false }]);
  });

  it('transfers to the configured number when the caller asks for a person', async () => {
    // Prepare
    const agent = supportAgent({ transferTargetNumber: TRANSFER_TO });
    const withoutTarget = supportAgent();
    const history: Turn[] = [{ role: 'assistant', text: greetingPrompt() }];
    // Act
    const replies = await Promise.all(
      ['Can I speak to a representative?', 'I want a human', 'get me an agent'].map((userText) => agent.respond({ callId: 'c', history, userText, context: {} })),
    );
    const unavailable = await withoutTarget.respond({ callId: 'c', history, userText: 'I want a human', context: {} });
    // Assess
    for (const reply of replies) {
      expect(reply.text).toBe(transferHoldPrompt());
      expect(reply.toolCalls).toEqual([{ id: 'offline-transfer_to_human-1', name: 'transfer_to_human', reason: 'caller asked for a human', targetNumber: TRANSFER_TO }]);
    }
    expect(unavailable.toolCalls).toEqual([]);
    expect(unavailable.text).toMatch(/no one from our team is available/);
  });

  it('re-prompts on silence, escalating the wording', async () => {
    // Prepare
    const agent = supportAgent();
    const first: Turn[] = [{ role: 'assistant', text: greetingPrompt() }];
    const second: Turn[] = [...first, { role: 'user', text: '' }, { role: 'assistant', text: repromptPrompt(1) }];
    // Act
    const once = await agent.respond({ callId: 'c', history: first, userText: '  ', context: {} });
    const twice = await agent.respond({ callId: 'c', history: second, userText: '', context: {} });
    // Assess
    expect(once.text).toBe(repromptPrompt(1));
    expect(twice.text).toBe(repromptPrompt(2));
    expect(twice.text).not.toBe(once.text);
  });

  it('echoes an unknown intent, then offers a person after repeated misunderstandings', async () => {
    // Prepare
    const agent = supportAgent({ transferTargetNumber: TRANSFER_TO });
    // Act
    const replies = await converse(agent, ['My llama is purple', 'The llama, I said', 'Purple llama!!']);
    // Assess
    expect(replies[1]!.text).toMatch(/^I heard "My llama is purple"\. I can help with/);
    expect(replies[2]!.text).toMatch(/^I heard "The llama, I said"/);
    expect(replies[3]!.toolCalls.map((c) => c.name)).toEqual(['transfer_to_human']);
  });

  it('is deterministic: the same script gives the same replies', async () => {
    // Prepare
    const script = ['hello', 'I moved house and need to change my address', 'thank you', 'goodbye'];
    // Act
    const a = await converse(supportAgent({ lookupProfile }), script, { userId: 'user-ana' });
    const b = await converse(supportAgent({ lookupProfile }), script, { userId: 'user-ana' });
    // Assess
    const strip = (rs: AgentReply[]) => rs.map((r) => ({ text: r.text, toolCalls: r.toolCalls }));
    expect(strip(a)).toEqual(strip(b));
    expect(a[2]!.text).toMatch(/^About changing your address/);
  });

  it('honours an aborted signal', async () => {
    // Prepare
    const controller = new AbortController();
    controller.abort();
    // Act
    const result = supportAgent().respond({ callId: 'c', history: [], userText: 'hi', context: {}, signal: controller.signal });
    // Assess
    await expect(result).rejects.toBeInstanceOf(AgentError);
  });
});

describe('createChatAgent', () => {
  it('chooses by AGENT_MODE and refuses azure-openai without an endpoint', async () => {
    // Prepare
    const config = (mode: 'offline' | 'azure-openai', endpoint?: string) => ({
      managedIdentityClientId: undefined,
      acs: { transferTargetNumber: TRANSFER_TO },
      agent: { mode, endpoint, apiKey: 'k', apiVersion: '2025-04-01-preview', chatDeployment: 'd', realtimeDeployment: 'r', ttsDeployment: 't' },
    });
    // Act
    const offline = await createChatAgent(config('offline'));
    const online = await createChatAgent(config('azure-openai', 'https://aoai.example.openai.azure.com'));
    const broken = createChatAgent(config('azure-openai'));
    // Assess
    expect(offline).toBeInstanceOf(ScenarioResponder);
    expect(online.constructor.name).toBe('AzureOpenAIChatAgent');
    await expect(broken).rejects.toMatchObject({ name: 'AgentError', code: 'config' });
  });
});
