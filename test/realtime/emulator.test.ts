/**
 * The realtime emulator at the protocol level, with a plain `ws` client: the Azure URL and auth, the
 * error events the agent relies on, energy VAD arithmetic and the utterance side channel.
 */

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { EnergyVad, UNSCRIPTED_TRANSCRIPT, UtteranceScript, callerSpeechFrames, startRealtimeEmulator, type RealtimeEmulator } from '../../emulators/realtime/index.js';

let emulator: RealtimeEmulator;

beforeAll(async () => {
  emulator = await startRealtimeEmulator({ speechMsPerWord: 40, paceFactor: 0 });
});

afterAll(async () => {
  await emulator?.close();
});

type Client = { ws: WebSocket; events: Array<Record<string, any>>; send(event: Record<string, unknown>): void };

async function connect(path: string, headers: Record<string, string>): Promise<Client> {
  const ws = new WebSocket(`wss://127.0.0.1:${emulator.port}${path}`, { ca: emulator.ca, headers });
  const events: Array<Record<string, any>> = [];
  ws.on('message', (data) => events.push(JSON.parse(data.toString()) as Record<string, any>));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, events, send: (event) => ws.send(JSON.stringify(event)) };
}

const azurePath = (deployment: string): string => `/openai/realtime?api-version=2025-04-01-preview&deployment=${deployment}`;
const ofType = (client: Client, type: string): Array<Record<string, any>> => client.events.filter((e) => e['type'] === type);
const waitFor = (check: () => void): Promise<void> => vi.waitFor(check, { timeout: 5_000, interval: 10 });

describe('realtime emulator protocol', () => {
  it('accepts the Azure path with api-key and the GA path with a bearer token, and greets with session.created', async () => {
    const azure = await connect(azurePath(emulator.deployment), { 'api-key': emulator.apiKey });
    const ga = await connect(`/openai/v1/realtime?model=${emulator.deployment}`, { authorization: `Bearer ${emulator.apiKey}` });
    try {
      await waitFor(() => expect(ofType(azure, 'session.created')).toHaveLength(1));
      await waitFor(() => expect(ofType(ga, 'session.created')).toHaveLength(1));
    } finally {
      azure.ws.close();
      ga.ws.close();
    }
  });

  it.each([
    ['a wrong key', azurePath('gpt-realtime'), { 'api-key': 'wrong' }, 401],
    ['no credentials', azurePath('gpt-realtime'), {}, 401],
    ['an unknown deployment', azurePath('other'), { 'api-key': 'KEY' }, 404],
    ['no api-version', '/openai/realtime?deployment=gpt-realtime', { 'api-key': 'KEY' }, 400],
    ['another path', '/openai/deployments/gpt-realtime/chat', { 'api-key': 'KEY' }, 404],
  ])('refuses the upgrade with %s', async (_what, path, headers, status) => {
    const resolved = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v === 'KEY' ? emulator.apiKey : v]));
    await expect(connect(path, resolved)).rejects.toThrow(`Unexpected server response: ${status}`);
  });

  it('answers protocol mistakes with error events the client can match', async () => {
    const client = await connect(azurePath(emulator.deployment), { 'api-key': emulator.apiKey });
    try {
      client.send({ type: 'session.update', session: { instructions: 'no type' } });
      client.send({ type: 'response.cancel', event_id: 'evt_cancel' });
      client.send({ type: 'conversation.item.truncate', item_id: 'item_missing', content_index: 0, audio_end_ms: 10 });
      await waitFor(() => expect(ofType(client, 'error')).toHaveLength(3));
      expect(ofType(client, 'error').map((e) => e['error'].code)).toEqual([
        'missing_required_parameter',
        'response_cancel_not_active',
        'invalid_value',
      ]);
      expect(ofType(client, 'error')[1]?.['error'].event_id).toBe('evt_cancel');
    } finally {
      client.ws.close();
    }
  });

  it('detects a user turn by energy, transcribes it from the side channel and answers', async () => {
    const client = await connect(azurePath(emulator.deployment), { 'api-key': emulator.apiKey });
    try {
      client.send({
        type: 'session.update',
        session: { type: 'realtime', audio: { input: { transcription: { model: 'whisper-1' }, turn_detection: { type: 'server_vad', silence_duration_ms: 200, prefix_padding_ms: 100 } } } },
      });
      await waitFor(() => expect(ofType(client, 'session.updated')).toHaveLength(1));
      const emulated = [...emulator.sessions.values()].at(-1)!;
      emulator.utterances.say('good morning', emulated.id);
      // 200 ms of silence, 300 ms of speech, 300 ms of silence
      const frames = [
        ...callerSpeechFrames({ sampleRateHz: 24000, speechMs: 0, silenceMs: 200 }),
        ...callerSpeechFrames({ sampleRateHz: 24000, speechMs: 300, silenceMs: 300 }),
      ];
      for (const frame of frames) client.send({ type: 'input_audio_buffer.append', audio: frame.toString('base64') });
      await waitFor(() => expect(ofType(client, 'response.done')).toHaveLength(1));
      expect(ofType(client, 'input_audio_buffer.speech_started')[0]?.['audio_start_ms']).toBe(100); // 200 − prefix padding
      expect(ofType(client, 'input_audio_buffer.speech_stopped')[0]?.['audio_end_ms']).toBe(700); // 500 + 200 silence
      expect(ofType(client, 'conversation.item.input_audio_transcription.completed')[0]?.['transcript']).toBe('good morning');
      const done = ofType(client, 'response.done')[0]!['response'];
      expect(done.status).toBe('completed');
      expect(done.output[0].content[0].transcript).toBe('You said: good morning.');
      expect(done.usage.output_token_details.audio_tokens).toBeGreaterThan(0);
      expect(ofType(client, 'response.output_audio.delta').length).toBe(Math.ceil((4 * 40) / 20));
    } finally {
      client.ws.close();
    }
  });
});

describe('EnergyVad', () => {
  it('reports speech start (less prefix padding) and stop (after the silence duration), across odd chunk sizes', () => {
    const vad = new EnergyVad({ sampleRateHz: 16000, prefixPaddingMs: 40, silenceDurationMs: 100 });
    const stream = Buffer.concat([
      ...callerSpeechFrames({ sampleRateHz: 16000, speechMs: 0, silenceMs: 100 }),
      ...callerSpeechFrames({ sampleRateHz: 16000, speechMs: 200, silenceMs: 200 }),
    ]);
    const events = [];
    for (let i = 0; i < stream.length; i += 333 * 2) events.push(...vad.push(stream.subarray(i, i + 333 * 2)));
    expect(events).toEqual([
      { type: 'speech_started', audioStartMs: 60, onsetHeard: true },
      { type: 'speech_stopped', audioEndMs: 400 },
    ]);
    expect(vad.audioMs).toBe(500);
  });

  it('says when the speech was already under way in the first audio it was given', () => {
    const vad = new EnergyVad({ sampleRateHz: 16000, prefixPaddingMs: 40, silenceDurationMs: 100 });
    const events = vad.push(Buffer.concat(callerSpeechFrames({ sampleRateHz: 16000, speechMs: 200, silenceMs: 200 })));
    expect(events[0]).toEqual({ type: 'speech_started', audioStartMs: 0, onsetHeard: false });
  });
});

describe('an utterance heard only from its middle (a relay that joined mid-sentence)', () => {
  /** Sends the tail of an utterance (speech from the session's first frame), then silence; the transcript it gets. */
  async function transcriptOfTail(target: RealtimeEmulator): Promise<{ transcript: unknown; answered: boolean; unintelligible: number }> {
    const ws = new WebSocket(`wss://127.0.0.1:${target.port}${azurePath(target.deployment)}`, { ca: target.ca, headers: { 'api-key': target.apiKey } });
    const events: Array<Record<string, any>> = [];
    ws.on('message', (data) => events.push(JSON.parse(data.toString()) as Record<string, any>));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'whisper-1' }, turn_detection: { type: 'server_vad', silence_duration_ms: 200, prefix_padding_ms: 100 } } } } }));
      await vi.waitFor(() => expect(events.some((e) => e['type'] === 'session.updated')).toBe(true), { timeout: 5_000, interval: 10 });
      const emulated = [...target.sessions.values()].at(-1)!;
      target.utterances.say('what are your opening hours', emulated.id);
      for (const frame of callerSpeechFrames({ sampleRateHz: 24000, speechMs: 300, silenceMs: 300 })) ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: frame.toString('base64') }));
      await vi.waitFor(() => expect(events.some((e) => e['type'] === 'response.done')).toBe(true), { timeout: 5_000, interval: 10 });
      const completed = events.find((e) => e['type'] === 'conversation.item.input_audio_transcription.completed');
      return { transcript: completed?.['transcript'], answered: true, unintelligible: emulated.unintelligibleTurns };
    } finally {
      ws.close();
    }
  }

  it('is unintelligible by default: an empty transcript, the scripted words used up, and server VAD still answers', async () => {
    const result = await transcriptOfTail(emulator);
    expect(result).toEqual({ transcript: '', answered: true, unintelligible: 1 });
    expect(emulator.utterances.next([[...emulator.sessions.values()].at(-1)!.id])).toBe(UNSCRIPTED_TRANSCRIPT);
  });

  it('is transcribed whole in the lenient mode', async () => {
    const lenient = await startRealtimeEmulator({ speechMsPerWord: 40, paceFactor: 0, tailTranscription: 'whole' });
    try {
      expect(await transcriptOfTail(lenient)).toEqual({ transcript: 'what are your opening hours', answered: true, unintelligible: 0 });
    } finally {
      await lenient.close();
    }
  });
});

describe('UtteranceScript', () => {
  it('serves keyed queues first, then the shared queue, then a placeholder', () => {
    const script = new UtteranceScript();
    script.say('for anyone');
    script.say('for call A', 'call-a');
    expect(script.next(['call-b', 'sess-1'])).toBe('for anyone');
    expect(script.next(['call-a', 'sess-2'])).toBe('for call A');
    expect(script.next(['call-a'])).toBe(UNSCRIPTED_TRANSCRIPT);
  });

  it('queues an utterance with an id once while it waits, and again once it was transcribed', () => {
    const script = new UtteranceScript();
    script.say('first', 'call-a', '100');
    script.say('first', 'call-a', '100');
    script.say('second', 'call-a', '200');
    expect(script.next(['call-a'])).toBe('first');
    script.say('first', 'call-a', '100');
    expect(script.next(['call-a'])).toBe('second');
    expect(script.next(['call-a'])).toBe('first');
    expect(script.next(['call-a'])).toBe(UNSCRIPTED_TRANSCRIPT);
  });
});
