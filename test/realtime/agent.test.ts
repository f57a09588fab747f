/**
 * The realtime agent with the real `openai` client (OpenAIRealtimeWS.azure over `ws`, TLS) against the
 * realtime emulator on a free port. The caller's words reach the emulator through its utterance side
 * channel, keyed by the correlation id the agent sends.
 */

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  RealtimeAgentError,
  RealtimeAgentSession,
  buildRealtimeInstructions,
  dispatchTools,
  realtimeToolsFor,
  SilentToolOutput,
  type CompletedTurn,
  type RealtimeAgentHandlers,
  type RealtimeAgentOptions,
  type RealtimeMetric,
  type ToolCallRequest,
  type TruncatedTurn,
} from '../../src/lib/agent/realtime/index.js';
import { durationMsForBase64 } from '../../src/lib/media/audio.js';
import { PlaybackTracker, type BargeInDecision } from '../../src/lib/media/barge-in.js';
import { STOP_AUDIO_FRAME } from '../../src/lib/media/codec.js';
import { callerSpeechFrames, defaultResponder, startRealtimeEmulator, type RealtimeEmulator } from '../../emulators/realtime/index.js';

const MS_PER_WORD = 100;
const LONG_ANSWER = Array.from({ length: 30 }, (_, i) => `word${i + 1}`).join(' '); // 3 s of speech

let emulator: RealtimeEmulator;

beforeAll(async () => {
  emulator = await startRealtimeEmulator({
    speechMsPerWord: MS_PER_WORD,
    // The scripted caller speaks in the session's very first audio, which the emulator cannot tell from
    // a relay that joined mid-utterance: these tests are about the session, so the words are heard whole.
    tailTranscription: 'whole',
    responder: (input) => (/story/i.test(input.userText) ? { text: LONG_ANSWER } : defaultResponder(input)),
  });
});

afterAll(async () => {
  await emulator?.close();
});

type Recorded = {
  handlers: RealtimeAgentHandlers;
  turns: CompletedTurn[];
  audio: Array<{ base64: string; responseId: string; itemId: string }>;
  transcriptDeltas: string[];
  finalTranscripts: string[];
  speech: string[];
  metrics: RealtimeMetric[];
  errors: RealtimeAgentError[];
  toolCalls: ToolCallRequest[];
  closes: number[];
};

function recorder(extra: RealtimeAgentHandlers = {}): Recorded {
  const r: Recorded = { turns: [], audio: [], transcriptDeltas: [], finalTranscripts: [], speech: [], metrics: [], errors: [], toolCalls: [], closes: [], handlers: {} };
  r.handlers = {
    onAudioDelta: (base64, responseId, itemId) => {
      r.audio.push({ base64, responseId, itemId });
      extra.onAudioDelta?.(base64, responseId, itemId);
    },
    onAgentTranscript: (text, responseId, done, itemId) => {
      (done ? r.finalTranscripts : r.transcriptDeltas).push(text);
      extra.onAgentTranscript?.(text, responseId, done, itemId);
    },
    onSpeechStarted: (e) => {
      r.speech.push(`started@${e.audioStartMs}`);
      extra.onSpeechStarted?.(e);
    },
    onSpeechStopped: (e) => r.speech.push(`stopped@${e.audioEndMs}`),
    onTurnCompleted: (turn) => r.turns.push(turn),
    onMetrics: (m) => r.metrics.push(m),
    onError: (e) => r.errors.push(e),
    onClose: (info) => r.closes.push(info.code),
    onToolCall: async (call) => {
      r.toolCalls.push(call);
      return extra.onToolCall ? extra.onToolCall(call) : { ok: true };
    },
  };
  return r;
}

function agentOptions(correlationId: string, handlers: RealtimeAgentHandlers, overrides: Partial<RealtimeAgentOptions> = {}): RealtimeAgentOptions {
  const availability = { canTransfer: true, canLookUpProfile: true };
  return {
    endpoint: emulator.endpoint,
    deployment: emulator.deployment,
    apiVersion: emulator.apiVersion,
    apiKey: emulator.apiKey,
    correlationId,
    socketOptions: { ca: emulator.ca },
    instructions: buildRealtimeInstructions({ context: { callerName: 'Ada' }, ...availability }),
    tools: realtimeToolsFor(availability),
    vad: { silenceDurationMs: 200 },
    handlers,
    ...overrides,
  };
}

/** The scripted caller: queues the words, then speaks them as 20 ms frames of tone followed by silence. */
function callerSays(session: RealtimeAgentSession, callId: string, text: string): void {
  emulator.utterances.say(text, callId);
  for (const frame of callerSpeechFrames({ sampleRateHz: 24000, speechMs: 300, silenceMs: 300 })) {
    session.appendAudio(frame.toString('base64'));
  }
}

const waitFor = (check: () => void, timeout = 8_000): Promise<void> => vi.waitFor(check, { timeout, interval: 10 });

describe('RealtimeAgentSession against the realtime emulator', () => {
  it('configures server VAD, PCM16 24 kHz, transcription, instructions and tools', async () => {
    // Prepare
    const callId = randomUUID();
    const r = recorder();
    // Act
    const session = await RealtimeAgentSession.connect(agentOptions(callId, r.handlers));
    try {
      // Assess
      const emulated = emulator.sessions.get(session.sessionId ?? '');
      expect(emulated?.correlationId).toBe(callId);
      const audio = emulated?.config['audio'];
      expect(audio.input.format).toEqual({ type: 'audio/pcm', rate: 24000 });
      expect(audio.output.format).toEqual({ type: 'audio/pcm', rate: 24000 });
      expect(audio.input.turn_detection).toMatchObject({ type: 'server_vad', silence_duration_ms: 200, interrupt_response: true });
      expect(audio.input.transcription.model).toBe('whisper-1');
      expect(emulated?.config['instructions']).toContain('callerName: Ada');
      expect((emulated?.config['tools'] as Array<{ name: string }>).map((t) => t.name)).toEqual(['end_call', 'transfer_to_human', 'lookup_profile']);
    } finally {
      await session.close();
    }
  });

  it('takes a turn: caller audio in, agent audio and transcript out, both turns completed with timings and metrics', async () => {
    // Prepare
    const callId = randomUUID();
    const r = recorder();
    const session = await RealtimeAgentSession.connect(agentOptions(callId, r.handlers));
    try {
      // Act
      callerSays(session, callId, 'What are your opening hours');
      await waitFor(() => expect(r.turns.map((t) => t.role)).toEqual(['user', 'agent']));
      // Assess
      const [user, agent] = r.turns as [CompletedTurn, CompletedTurn];
      expect(user.text).toBe('What are your opening hours');
      expect(user.timings.audioStartMs).toBe(0);
      expect(user.timings.audioEndMs).toBe(500); // 300 ms speech + 200 ms silence detected
      expect(r.speech).toEqual(['started@0', 'stopped@500']);
      const expected = 'You said: What are your opening hours.';
      expect(agent.text).toBe(expected);
      expect(agent.interrupted).toBe(false);
      expect(r.transcriptDeltas.join('')).toBe(expected);
      expect(r.finalTranscripts).toEqual([expected]);
      const audioMs = r.audio.reduce((sum, a) => sum + durationMsForBase64(a.base64, 24000), 0);
      expect(audioMs).toBe(7 * MS_PER_WORD); // seven words
      expect(agent.timings.audioDurationMs).toBe(audioMs);
      expect(agent.timings.ttfaMs).toBeGreaterThanOrEqual(0);
      const metrics = session.metrics();
      expect(metrics.responses).toBe(1);
      expect(metrics.ttfaMs).toHaveLength(1);
      expect(metrics.usage.outputAudioTokens).toBe(Math.ceil(audioMs / 50));
      expect(metrics.usage.totalTokens).toBeGreaterThan(0);
      expect(r.metrics.map((m) => m.type)).toEqual(['ttfa', 'response']);
      expect(r.errors).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('runs a tool the model calls and lets the model answer with its output', async () => {
    // Prepare
    const callId = randomUUID();
    const lookups: Array<Record<string, unknown>> = [];
    const r = recorder({ onToolCall: dispatchTools({ lookup_profile: (args) => (lookups.push(args), { displayName: 'Ada', callCount: 3 }) }) });
    const session = await RealtimeAgentSession.connect(agentOptions(callId, r.handlers));
    try {
      // Act
      callerSays(session, callId, 'Can you check my account');
      await waitFor(() => expect(r.turns.filter((t) => t.role === 'agent')).toHaveLength(1));
      // Assess
      expect(r.toolCalls.map((c) => c.name)).toEqual(['lookup_profile']);
      expect(lookups).toEqual([{}]);
      const emulated = emulator.sessions.get(session.sessionId ?? '');
      const output = emulated?.items.find((i) => i.type === 'function_call_output');
      expect(output?.text).toBe('{"displayName":"Ada","callCount":3}');
      expect(emulated?.received).toContain('response.create');
      expect(r.turns.map((t) => [t.role, t.text])).toEqual([
        ['user', 'Can you check my account'],
        ['agent', 'Thanks, I found your details.'],
      ]);
      expect(session.metrics().responses).toBe(2); // the tool call, then the answer
    } finally {
      await session.close();
    }
  });

  it('gives the model a silent tool output without asking it to speak again', async () => {
    // Prepare
    const callId = randomUUID();
    const r = recorder({ onToolCall: () => new SilentToolOutput({ ok: true, note: 'say nothing more' }) });
    const session = await RealtimeAgentSession.connect(agentOptions(callId, r.handlers));
    try {
      // Act
      callerSays(session, callId, 'Can I speak to a real person please');
      await waitFor(() => expect(emulator.sessions.get(session.sessionId ?? '')?.items.some((i) => i.type === 'function_call_output')).toBe(true));
      await new Promise((resolve) => setTimeout(resolve, 300)); // room for a response.create that must not come

      // Assess: the output reached the model unwrapped, and no response followed it.
      const emulated = emulator.sessions.get(session.sessionId ?? '')!;
      expect(r.toolCalls.map((c) => c.name)).toEqual(['transfer_to_human']);
      expect(emulated.items.find((i) => i.type === 'function_call_output')?.text).toBe('{"ok":true,"note":"say nothing more"}');
      expect(emulated.received.filter((t) => t === 'response.create')).toHaveLength(0);
      expect(r.turns.filter((t) => t.role === 'agent')).toEqual([]);
      expect(session.metrics().responses).toBe(1); // the tool call only
    } finally {
      await session.close();
    }
  });

  it('barges in: StopAudio, cancel and truncate to what the caller heard, then answers the interruption', async () => {
    // Prepare: the relay's side, simulated here — agent audio "sent to ACS" as it arrives.
    const callId = randomUUID();
    const tracker = new PlaybackTracker({ sampleRateHz: 24000 });
    const decisions: BargeInDecision[] = [];
    const live: { session?: RealtimeAgentSession } = {}; // the handlers below run once it is connected
    const r = recorder({
      onAudioDelta: (b64, responseId, itemId) => {
        if (tracker.shouldForward(responseId)) tracker.onAgentAudioSent(responseId, itemId, Buffer.byteLength(b64, 'base64'), performance.now());
      },
      onAgentTranscript: (text, responseId, done, itemId) => {
        if (!done) tracker.onAgentTranscriptDelta(responseId, itemId, text);
      },
      onSpeechStarted: () => {
        const decision = tracker.onCallerSpeechStarted(performance.now());
        if (!decision) return;
        decisions.push(decision);
        if (decision.responseIdToCancel) live.session?.cancelResponse();
        live.session?.truncate(decision.itemId, decision.audioEndMs);
      },
    });
    const session = await RealtimeAgentSession.connect(agentOptions(callId, r.handlers));
    live.session = session;
    try {
      callerSays(session, callId, 'Tell me a story');
      await waitFor(() => expect(r.audio.length).toBeGreaterThan(0));
      const firstItem = r.audio[0]!.itemId;
      await waitFor(() => expect(tracker.heardMs(firstItem, performance.now())).toBeGreaterThan(600));
      // Act: the caller interrupts mid-story
      callerSays(session, callId, 'Stop please');
      await waitFor(() => expect(r.turns.map((t) => t.role)).toEqual(['user', 'agent', 'user', 'agent']));
      // Assess
      expect(decisions).toHaveLength(1);
      const decision = decisions[0]!;
      expect(decision.stopAudioFrame).toBe(STOP_AUDIO_FRAME);
      expect(decision.audioEndMs).toBeGreaterThan(600);
      expect(decision.audioEndMs).toBeLessThan(3000);
      expect(tracker.bargeInCount).toBe(1);
      const interrupted = r.turns[1]!;
      expect(interrupted.interrupted).toBe(true);
      expect(interrupted.text).toBe(decision.heardTranscript);
      expect(LONG_ANSWER.startsWith(interrupted.text)).toBe(true);
      expect(interrupted.text.length).toBeLessThan(LONG_ANSWER.length);
      // The service side agrees: the response was cancelled and the item truncated where the caller stopped hearing it.
      const emulated = emulator.sessions.get(session.sessionId ?? '')!;
      expect(emulated.responses[0]?.status).toBe('cancelled');
      const story = emulated.items.find((i) => i.role === 'assistant' && i.truncatedAtMs !== undefined);
      expect(story?.truncatedAtMs).toBe(decision.audioEndMs);
      // Proportional truncation lands within a word of the service's exact word timings.
      const heardWords = interrupted.text.split(' ').length;
      expect(Math.abs(heardWords - (story?.heardText ?? '').split(' ').length)).toBeLessThanOrEqual(1);
      expect(r.turns[3]!.text).toBe('You said: Stop please.');
      expect(r.errors).toEqual([]); // a cancel racing the service's own interruption is not an error
    } finally {
      await session.close();
    }
  });

  it('truncates an agent turn already reported when the model generated faster than the caller listened', async () => {
    // Prepare: a service that sends a whole answer at once, as real models often do; the relay's side simulated.
    const fast = await startRealtimeEmulator({
      paceFactor: 0,
      tailTranscription: 'whole',
      speechMsPerWord: MS_PER_WORD,
      responder: (input) => (/story/i.test(input.userText) ? { text: LONG_ANSWER } : defaultResponder(input)),
    });
    const tracker = new PlaybackTracker({ sampleRateHz: 24000 });
    const truncated: TruncatedTurn[] = [];
    const live: { session?: RealtimeAgentSession } = {};
    const r = recorder({
      onAudioDelta: (b64, responseId, itemId) => {
        if (tracker.shouldForward(responseId)) tracker.onAgentAudioSent(responseId, itemId, Buffer.byteLength(b64, 'base64'), performance.now());
      },
      onAgentTranscript: (text, responseId, done, itemId) => {
        if (!done) tracker.onAgentTranscriptDelta(responseId, itemId, text);
      },
      onSpeechStarted: () => {
        const decision = tracker.onCallerSpeechStarted(performance.now());
        if (decision) live.session?.truncate(decision.itemId, decision.audioEndMs);
      },
    });
    const callId = randomUUID();
    const options = agentOptions(callId, { ...r.handlers, onAgentTurnTruncated: (t) => truncated.push(t) }, {
      endpoint: fast.endpoint,
      apiKey: fast.apiKey,
      socketOptions: { ca: fast.ca },
    });
    const session = await RealtimeAgentSession.connect(options);
    live.session = session;
    try {
      fast.utterances.say('Tell me a story', callId);
      for (const frame of callerSpeechFrames({ sampleRateHz: 24000, speechMs: 300, silenceMs: 300 })) session.appendAudio(frame.toString('base64'));
      await waitFor(() => expect(r.turns.map((t) => t.role)).toEqual(['user', 'agent']));
      tracker.onResponseDone(r.turns[1]!.responseId!);
      expect(r.turns[1]).toMatchObject({ text: LONG_ANSWER, interrupted: false }); // all of it generated…
      const itemId = r.turns[1]!.itemId;
      await waitFor(() => expect(tracker.heardMs(itemId, performance.now())).toBeGreaterThan(300));
      // Act: …but the caller interrupts after hearing a part of it
      fast.utterances.say('Stop please', callId);
      for (const frame of callerSpeechFrames({ sampleRateHz: 24000, speechMs: 300, silenceMs: 300 })) session.appendAudio(frame.toString('base64'));
      await waitFor(() => expect(truncated).toHaveLength(1));
      // Assess: the reported turn is corrected to what was heard, and the service truncated its item there
      const correction = truncated[0]!;
      expect(correction.itemId).toBe(itemId);
      expect(correction.audioEndMs).toBeGreaterThan(300);
      expect(correction.audioEndMs).toBeLessThan(3000);
      expect(LONG_ANSWER.startsWith(correction.text)).toBe(true);
      expect(correction.text.length).toBeLessThan(LONG_ANSWER.length);
      const emulated = fast.sessions.get(session.sessionId ?? '')!;
      await waitFor(() => expect(emulated.items.find((i) => i.id === itemId)?.truncatedAtMs).toBe(correction.audioEndMs));
      expect(emulated.responses[0]?.status).toBe('completed');
      expect(r.errors).toEqual([]);
    } finally {
      await session.close();
      await fast.close();
    }
  });

  it('cancels a response on request', async () => {
    // Prepare
    const callId = randomUUID();
    const r = recorder();
    const session = await RealtimeAgentSession.connect(agentOptions(callId, r.handlers));
    try {
      session.requestResponse();
      await waitFor(() => expect(r.audio.length).toBeGreaterThan(0));
      // Act
      session.cancelResponse();
      await waitFor(() => expect(session.metrics().cancelledResponses).toBe(1));
      // Assess
      const emulated = emulator.sessions.get(session.sessionId ?? '')!;
      expect(emulated.responses).toEqual([expect.objectContaining({ status: 'cancelled', reason: 'client_cancelled' })]);
      expect(session.activeResponseId).toBeUndefined();
      expect(r.turns).toEqual([expect.objectContaining({ role: 'agent', interrupted: true })]);
    } finally {
      await session.close();
    }
  });

  it.each([
    ['v1', '/openai/v1/realtime'],
    ['deployment', '/openai/realtime'],
  ] as const)('refuses a wrong key with a non-retryable auth error (%s route)', async (route, path) => {
    const attempt = RealtimeAgentSession.connect(agentOptions(randomUUID(), {}, { apiKey: 'not-the-key', route }));
    await expect(attempt).rejects.toBeInstanceOf(RealtimeAgentError);
    await expect(attempt).rejects.toMatchObject({ code: 'auth', status: 401, retryable: false });
    expect(emulator.refusals).toContainEqual({ status: 401, path });
  });

  it('speaks over the AzureOpenAI deployment route (OpenAIRealtimeWS.azure) as well', async () => {
    // Prepare
    const r = recorder();
    const session = await RealtimeAgentSession.connect(agentOptions(randomUUID(), r.handlers, { route: 'deployment' }));
    try {
      // Act: the agent speaks first (greeting)
      session.requestResponse('Greet the caller');
      await waitFor(() => expect(r.turns).toHaveLength(1));
      // Assess
      expect(r.turns[0]).toMatchObject({ role: 'agent', text: 'Hello, how can I help you today?', interrupted: false });
      expect(r.turns[0]?.timings.ttfaMs).toBeUndefined(); // not an answer to speech
    } finally {
      await session.close();
    }
  });

  it('reports an unknown deployment as not-found', async () => {
    const attempt = RealtimeAgentSession.connect(agentOptions(randomUUID(), {}, { deployment: 'no-such-deployment' }));
    await expect(attempt).rejects.toMatchObject({ code: 'not-found', status: 404, retryable: false });
  });

  it('authenticates with an Entra ID token provider (bearer) instead of a key', async () => {
    const tokens: string[] = [];
    const session = await RealtimeAgentSession.connect(
      agentOptions(randomUUID(), {}, {
        apiKey: undefined,
        tokenProvider: async () => {
          tokens.push('issued');
          return emulator.apiKey; // the emulator accepts its key as a bearer token
        },
      }),
    );
    try {
      expect(tokens).toEqual(['issued']);
      expect(session.sessionId).toMatch(/^sess_/);
    } finally {
      await session.close();
    }
  });

  it('reports a dropped connection as a retryable error', async () => {
    // Prepare
    const r = recorder();
    const session = await RealtimeAgentSession.connect(agentOptions(randomUUID(), r.handlers));
    // Act: the service side goes away without a close handshake
    emulator.sessions.get(session.sessionId ?? '')?.terminate();
    await waitFor(() => expect(r.closes).toHaveLength(1));
    // Assess
    expect(r.closes).toEqual([1006]);
    expect(r.errors).toEqual([expect.objectContaining({ code: 'unavailable', retryable: true })]);
    expect(session.isClosed).toBe(true);
    session.appendAudio('AAAA'); // ignored after close, no throw
    await session.close();
  });

  it('closes when its AbortSignal fires, and refuses to connect with an aborted signal', async () => {
    const controller = new AbortController();
    const r = recorder();
    const session = await RealtimeAgentSession.connect(agentOptions(randomUUID(), r.handlers, { signal: controller.signal }));
    controller.abort();
    await waitFor(() => expect(r.closes).toEqual([1000]));
    expect(session.isClosed).toBe(true);
    expect(r.errors).toEqual([]);
    await expect(RealtimeAgentSession.connect(agentOptions(randomUUID(), {}, { signal: controller.signal }))).rejects.toMatchObject({
      name: 'RealtimeAgentError',
      code: 'aborted',
      retryable: false,
    });
  });
});
