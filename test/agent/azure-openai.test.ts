import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentError, AzureOpenAIChatAgent, createChatAgent, type CallerProfile } from '../../src/lib/agent/index.js';
import { AzureOpenAIStandIn, chunk, promptFilterChunk, textReply, toolCallReply } from './aoai-server.js';

// Azure OpenAI cannot run offline: AzureOpenAIStandIn speaks its wire format on a local port, and the
// real `openai` SDK (AzureOpenAI client) talks to it over HTTP.

const DEPLOYMENT = 'chat-mini';
const API_VERSION = '2025-04-01-preview';
const TRANSFER_TO = '+15550100777';
let aoai: AzureOpenAIStandIn;

beforeAll(async () => {
  aoai = await AzureOpenAIStandIn.start();
});
afterAll(async () => {
  await aoai.close();
});
afterEach(() => aoai.reset());

function agent(overrides: Partial<ConstructorParameters<typeof AzureOpenAIChatAgent>[0]> = {}) {
  return new AzureOpenAIChatAgent({
    endpoint: aoai.endpoint,
    deployment: DEPLOYMENT,
    apiVersion: API_VERSION,
    apiKey: 'test-key',
    transferTargetNumber: TRANSFER_TO,
    maxRetries: 0,
    ...overrides,
  });
}

const base = { callId: 'call-1', history: [], context: {} };

describe('AzureOpenAIChatAgent over the Azure OpenAI wire', () => {
  it('streams a text reply from the deployment path with the api-version and key', async () => {
    // Prepare
    aoai.script(textReply('We are open ', 'weekdays from 8 to 8.'));
    const deltas: string[] = [];
    // Act
    const reply = await agent().respond({
      ...base,
      history: [
        { role: 'assistant', text: 'Hello, how can I help?' },
        { role: 'user', text: 'Hi there' },
        { role: 'assistant', text: 'Hi! What do you need?' },
      ],
      userText: 'When are you open?',
      context: { callerName: 'Ana', callerNumber: '+15550100123', direction: 'inbound' },
      onTextDelta: (d) => deltas.push(d),
    });
    // Assess
    expect(reply.text).toBe('We are open weekdays from 8 to 8.');
    expect(reply.toolCalls).toEqual([]);
    expect(reply.usage).toEqual({ promptTokens: 120, completionTokens: 20, totalTokens: 140 });
    expect(reply.timings.firstTokenMs).toBeGreaterThanOrEqual(0);
    expect(reply.timings.totalMs).toBeGreaterThanOrEqual(reply.timings.firstTokenMs!);
    expect(deltas).toEqual(['We are open ', 'weekdays from 8 to 8.']);

    const [request] = aoai.requests;
    expect(request!.path).toBe(`/openai/deployments/${DEPLOYMENT}/chat/completions`);
    expect(request!.query.get('api-version')).toBe(API_VERSION);
    expect(request!.headers['api-key']).toBe('test-key');
    expect(request!.body).toMatchObject({ stream: true, stream_options: { include_usage: true }, tool_choice: 'auto' });
    const messages = request!.body.messages as { role: string; content: string }[];
    expect(messages.map((m) => m.role)).toEqual(['system', 'assistant', 'user', 'assistant', 'user']);
    expect(messages[0]!.content).toContain('callerName: Ana');
    expect(messages[0]!.content).not.toContain('+15550100123'); // masked before it leaves the process
    expect(messages.at(-1)!.content).toBe('When are you open?');
    expect((request!.body.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual(['end_call', 'transfer_to_human']);
  });

  it('assembles a tool call streamed in fragments and fills in the goodbye text', async () => {
    // Prepare
    aoai.script(toolCallReply('end_call', ['{"rea', 'son":"caller is ', 'done"}']));
    // Act
    const reply = await agent().respond({ ...base, userText: "That's all, bye" });
    // Assess
    expect(reply.toolCalls).toEqual([{ id: 'call_end_call', name: 'end_call', reason: 'caller is done' }]);
    expect(reply.text).toMatch(/goodbye/i);
  });

  it('transfers to the configured number only, whatever the model writes in the arguments', async () => {
    // Prepare: the model tries to smuggle a number into the arguments
    aoai.script(toolCallReply('transfer_to_human', ['{"reason":"wants a person","target":"+19005550000"}'], 'Connecting you now.'));
    // Act
    const reply = await agent().respond({ ...base, userText: 'Give me a human, call +19005550000' });
    // Assess
    expect(reply.text).toBe('Connecting you now.');
    expect(reply.toolCalls).toEqual([{ id: 'call_transfer_to_human', name: 'transfer_to_human', reason: 'wants a person', targetNumber: TRANSFER_TO }]);
  });

  it('does not offer transfer without a configured target', async () => {
    // Prepare
    aoai.script(textReply('Sorry, nobody is available.'));
    // Act
    await agent({ transferTargetNumber: undefined }).respond({ ...base, userText: 'agent please' });
    // Assess
    expect((aoai.requests[0]!.body.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual(['end_call']);
  });

  it('runs lookup_profile with the injected store for the call’s user and lets the model answer with it', async () => {
    // Prepare
    const looked: string[] = [];
    const lookupProfile = async (userId: string): Promise<CallerProfile | undefined> => {
      looked.push(userId);
      return { userId, displayName: 'Ana', callCount: 3, lastCallSummary: 'asked about a refund' };
    };
    aoai.script(toolCallReply('lookup_profile', ['{}']), textReply('Welcome back, Ana! ', 'Is this about your refund?'));
    // Act
    const reply = await agent({ lookupProfile }).respond({ ...base, userText: 'Hello', context: { userId: 'user-42' } });
    // Assess
    expect(looked).toEqual(['user-42']);
    expect(reply.text).toBe('Welcome back, Ana! Is this about your refund?');
    expect(reply.toolCalls).toEqual([{ id: 'call_lookup_profile', name: 'lookup_profile', found: true }]);
    expect(reply.usage?.totalTokens).toBe(160 + 140);
    const second = aoai.requests[1]!.body.messages as any[];
    expect(second.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'call_lookup_profile', function: { name: 'lookup_profile' } }] });
    expect(second.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_lookup_profile' });
    expect(JSON.parse(second.at(-1).content)).toMatchObject({ found: true, displayName: 'Ana' });
    // The last round may not look up again, so the model has to answer.
    expect((aoai.requests[1]!.body.tools as { function: { name: string } }[]).map((t) => t.function.name)).not.toContain('lookup_profile');
  });

  it('authenticates with a bearer token from the token provider (managed identity path)', async () => {
    // Prepare
    aoai.script(textReply('Hi.'));
    const config = {
      managedIdentityClientId: undefined,
      acs: { transferTargetNumber: undefined },
      agent: {
        mode: 'azure-openai' as const,
        endpoint: aoai.endpoint,
        apiKey: undefined,
        apiVersion: API_VERSION,
        chatDeployment: DEPLOYMENT,
        realtimeDeployment: 'rt',
        ttsDeployment: 'tts',
      },
    };
    // Act
    const chat = await createChatAgent(config, { tokenProvider: async () => 'entra-token' });
    await chat.respond({ ...base, userText: 'hi' });
    // Assess
    expect(aoai.requests[0]!.headers.authorization).toBe('Bearer entra-token');
    expect(aoai.requests[0]!.headers['api-key']).toBeUndefined();
  });

  it('maps service errors to typed AgentErrors with retryable set', async () => {
    // Prepare
    aoai.script(
      { kind: 'error', status: 429, body: { error: { code: '429', message: 'Rate limit' } } },
      { kind: 'error', status: 401, body: { error: { code: 'PermissionDenied', message: 'no' } } },
      { kind: 'error', status: 400, body: { error: { code: 'content_filter', message: 'filtered' } } },
      { kind: 'error', status: 503 },
    );
    const chat = agent();
    // Act
    const errors: unknown[] = [];
    for (let i = 0; i < 4; i += 1) errors.push(await chat.respond({ ...base, userText: 'x' }).catch((e: unknown) => e));
    // Assess
    expect(errors.every((e) => e instanceof AgentError)).toBe(true);
    expect(errors.map((e) => [(e as AgentError).code, (e as AgentError).retryable, (e as AgentError).status])).toEqual([
      ['rate_limited', true, 429],
      ['auth', false, 401],
      ['bad_request', false, 400],
      ['unavailable', true, 503],
    ]);
  });

  it('stops a hanging stream when the signal aborts', async () => {
    // Prepare: the stand-in sends a first delta and then never finishes
    aoai.script({ kind: 'stream', chunks: [promptFilterChunk, chunk({ role: 'assistant', content: 'Let me' })], hangAfterChunks: true });
    const controller = new AbortController();
    // Act
    const pending = agent().respond({
      ...base,
      userText: 'x',
      signal: controller.signal,
      onTextDelta: () => controller.abort(new Error('caller barged in')),
    });
    // Assess
    await expect(pending).rejects.toMatchObject({ name: 'AgentError', code: 'aborted', retryable: false });
  });

  it('treats an unreachable endpoint as retryable', async () => {
    // Prepare: a closed port
    const gone = await AzureOpenAIStandIn.start();
    const endpoint = gone.endpoint;
    await gone.close();
    // Act
    const error = await agent({ endpoint }).respond({ ...base, userText: 'x' }).catch((e: unknown) => e);
    // Assess
    expect(error).toMatchObject({ name: 'AgentError', code: 'unavailable', retryable: true });
  });

  it('refuses ambiguous credentials', () => {
    expect(() => agent({ apiKey: 'k', tokenProvider: async () => 't' })).toThrow(AgentError);
    expect(() => agent({ apiKey: undefined })).toThrow(AgentError);
  });
});
