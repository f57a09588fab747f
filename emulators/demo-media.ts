/**
 * `npm run demo -- --media`: one scripted phone call through the real-time media path, offline.
 *
 * The ACS emulator's caller streams speech-like PCM (24 kHz, 20 ms frames) to the Web PubSub emulator
 * with the media token the app minted on answer; the relay bridges it to the Azure OpenAI realtime
 * emulator (real `openai` client) and streams the agent's voice back at real-time pace. The caller
 * talks over one answer (barge-in), then says goodbye; the agent's `end_call` plays the fixed goodbye
 * prompt (the model is not asked to reply), hangs up once it has been heard, and the lifecycle
 * archives the call. Prints the transcript with per-turn latency and the barge-in.
 */
import { fileURLToPath } from 'node:url';
import { FRAME_MS, rmsLevel, speechLikePcm, type CallerStep, type CallRecording } from './acs/index.js';
import { DEFAULT_VAD_THRESHOLD_RMS } from './realtime/index.js';
import { startOfflineStack } from './offline-stack.js';
import { callIdForIncoming } from '../src/lib/calls/session.js';
import { utcDay } from '../src/lib/archive/index.js';
import type { BargeInRecord } from '../src/lib/media/call-bridge.js';
import { consoleLogger, type Logger } from '../src/lib/telemetry/logger.js';
import { goodbyePrompt } from '../src/lib/agents/built-in.js';

export interface MediaDemoOptions {
  /** Where the transcript goes. @default console.log */
  readonly print?: (line: string) => void;
  readonly logger?: Logger;
  /** Use this Redis instead of starting a private redis-server. */
  readonly redis?: { readonly host: string; readonly port: number };
}

export interface MediaDemoResult {
  readonly callId: string;
  readonly turns: ReadonlyArray<{ readonly role: string; readonly content: string; readonly truncated: boolean }>;
  readonly bargeIns: number;
  readonly stopAudioFrames: number;
  readonly endedBy: CallRecording['endedBy'];
  /** The fixed goodbye prompt was the last thing the caller heard, whole, before the app hung up. */
  readonly goodbyeHeardBeforeHangUp: boolean;
  /** `response.create` requests the relay sent after the `end_call` output (0: the model was not asked to reply). */
  readonly repliesAfterEndCall: number;
  /**
   * Per answered turn: the caller's last voiced 20 ms (what the VAD last heard as speech) → the first
   * agent audio the caller heard after it (ms). It includes the VAD's end-of-speech window, so it is
   * never below VAD_SILENCE_MS.
   */
  readonly answerLatenciesMs: readonly number[];
}

const SAY_MS = 1_200;
/** The realtime emulator's `silence_duration_ms` (the server VAD default the relay keeps). */
export const VAD_SILENCE_MS = 500;

/**
 * The demo as `npm run demo -- --media` runs it: prints the call and returns the process exit code
 * (0 when the call was answered, barged in once, ended and archived whole).
 */
export async function runMediaDemo(options: MediaDemoOptions = {}): Promise<number> {
  const result = await playMediaDemoCall(options);
  const whole =
    result.turns.length === 9 &&
    result.turns.at(-1)?.content === goodbyePrompt() &&
    result.goodbyeHeardBeforeHangUp &&
    result.repliesAfterEndCall === 0 &&
    result.bargeIns === 1 &&
    result.stopAudioFrames === 1 &&
    result.endedBy === 'app';
  if (!whole) (options.print ?? console.error)('the media demo call did not go as scripted (see above)');
  return whole ? 0 : 1;
}

/** Plays the scripted media call and reports what happened. */
export async function playMediaDemoCall(options: MediaDemoOptions = {}): Promise<MediaDemoResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const bargeIns: BargeInRecord[] = [];
  const stack = await startOfflineStack({
    ...(options.redis ? { redis: options.redis } : {}),
    logger: options.logger ?? consoleLogger('error', { component: 'demo-media' }),
    env: { LOG_LEVEL: 'error' },
    media: { realtime: { speechMsPerWord: 180 }, relay: { onBargeIn: (_callId, record) => bargeIns.push(record) } },
  });
  try {
    const quiet = { waitFor: 'agentSilence' as const, quietMs: 1_000, timeoutMs: 15_000 };
    const steps: CallerStep[] = [
      { waitFor: 'greeting', quietMs: 600, timeoutMs: 15_000 },
      { say: 'What are your opening hours on Saturday', audioMs: SAY_MS },
      quiet,
      { say: 'I would like to know where my order is', audioMs: SAY_MS },
      { bargeInAfterMs: 700, say: 'Sorry, actually it is about my bill', audioMs: SAY_MS },
      quiet,
      { say: 'Thanks, that is all, goodbye', audioMs: SAY_MS },
      { waitFor: 'agentSilence', quietMs: 3_000, timeoutMs: 15_000 },
    ];
    print('Media demo: ACS emulator ⇄ Web PubSub emulator ⇄ relay ⇄ Azure OpenAI realtime emulator (PCM 24 kHz, 20 ms frames)');
    const call = await stack.acs.placeCall({ from: '+15550100123', to: '+15550100000', steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 60_000 });
    const status = await stack.host.durable.waitForCompletion(call.callConnectionId ?? '', { timeoutMs: 20_000 });
    const callId = callIdForIncoming(call.serverCallId);
    const archive = await stack.runtime.archive();
    const transcript = await archive.transcripts.read(callId);
    const turns = transcript?.turns ?? [];
    const latencies = answerLatencies(call);

    print(`call ${callId}: answered with media streaming to group call.${callId}.in; lifecycle ${status.runtimeStatus}`);
    print('');
    let answer = 0;
    // When each turn began (speech start for the caller, response start for the agent), else when it was stored.
    const began = (turn: (typeof turns)[number]): number => Date.parse(typeof turn.meta?.startedAt === 'string' ? turn.meta.startedAt : turn.at);
    const startedAt = turns[0] ? began(turns[0]) : Date.now();
    for (const turn of turns) {
      const at = ((began(turn) - startedAt) / 1000).toFixed(1).padStart(5);
      const who = turn.role === 'user' ? 'caller' : 'agent ';
      let note = '';
      if (turn.role === 'assistant' && answer > 0) {
        const latency = latencies[answer - 1];
        if (latency !== undefined) note = `  ⏱ caller heard it ${Math.round(latency)} ms after their last word (${VAD_SILENCE_MS} ms of it is the silence that ends their turn)`;
      }
      if (turn.role === 'assistant') answer++;
      if (turn.meta?.truncated === true) {
        const b = bargeIns[0];
        note += `\n          ✂ barge-in: the caller spoke ${Math.round(Number(turn.meta.heardMs ?? 0))} ms into this answer; StopAudio went out ${b ? (b.stopAudioSentAtMs - b.vadAtMs).toFixed(3) : '?'} ms after the VAD event; the model had said "${b?.fullTranscript ?? ''}", the caller heard "${turn.content}"`;
      }
      print(`  [${at} s] ${who}: ${turn.content}${note}`);
    }
    const analytics = transcript ? await archive.analytics.get(callId, utcDay('dev', transcript.header.startedAt)) : undefined;
    print('');
    print(`archived ${turns.length} turns; barge-ins counted: ${analytics?.bargeIns ?? 0}; StopAudio frames: ${call.stopAudio.length}; the call was ended by the ${call.endedBy}`);
    print(`caller heard ${(call.heardAudioMs / 1000).toFixed(1)} s of agent audio; ${call.media?.stats.framesSent ?? 0} caller frames streamed, ${call.media?.stats.outboundFrames ?? 0} agent AudioData messages played (coalesced, up to 200 ms each)`);
    return {
      callId,
      turns: turns.map((t) => ({ role: t.role, content: t.content, truncated: t.meta?.truncated === true })),
      bargeIns: analytics?.bargeIns ?? 0,
      stopAudioFrames: call.stopAudio.length,
      endedBy: call.endedBy,
      goodbyeHeardBeforeHangUp: goodbyeHeardBeforeHangUp(call),
      repliesAfterEndCall: repliesAfterEndCall(stack, callId),
      answerLatenciesMs: latencies,
    };
  } finally {
    await stack.close();
  }
}

/** The last audio the caller heard played out whole (no StopAudio) before the app's hang-up request. */
function goodbyeHeardBeforeHangUp(call: CallRecording): boolean {
  const goodbye = call.heard.filter((h) => h.kind === 'audio').at(-1);
  const hangUp = call.requests.at(-1);
  if (goodbye?.kind !== 'audio' || goodbye.endedAtMs === undefined || hangUp?.operation !== 'terminateCall') return false;
  return !goodbye.stoppedByStopAudio && goodbye.endedAtMs <= hangUp.atMs;
}

/** `response.create` messages the realtime emulator received after the relay sent the last tool output. */
function repliesAfterEndCall(stack: Awaited<ReturnType<typeof startOfflineStack>>, callId: string): number {
  const session = [...(stack.media?.realtime.sessions.values() ?? [])].find((s) => s.correlationId === callId);
  if (!session?.items.some((i) => i.type === 'function_call_output' && i.name === 'end_call')) return Number.NaN;
  const lastOutput = session.received.lastIndexOf('conversation.item.create');
  return session.received.slice(lastOutput + 1).filter((t) => t === 'response.create').length;
}

/**
 * For each thing the caller said: the end of their voice → the start of the next agent audio they
 * heard. The end of the voice is the end of the utterance's last 20 ms window loud enough for the
 * VAD, not the end of its audio: the synthetic speech fades and dips between words, and the VAD
 * counts its silence from the last voiced window, so measuring from the end of the audio would
 * leave out part of the end-of-speech window (a 481 ms answer against a 500 ms window).
 */
export function answerLatencies(call: CallRecording): number[] {
  const audio = call.heard.filter((h) => h.kind === 'audio').map((h) => h.atMs).sort((a, b) => a - b);
  const sampleRate = call.media?.sampleRate;
  if (sampleRate === undefined) return [];
  return call.said.flatMap((said, index) => {
    if (said.via !== 'media') return [];
    // The caller's PCM is deterministic: the same duration, rate and seed (its position) give the same audio.
    const voicedEnd = said.atMs + lastVoicedMs(speechLikePcm(SAY_MS, sampleRate, index + 1), sampleRate);
    const next = audio.find((at) => at >= voicedEnd);
    return next === undefined ? [] : [next - voicedEnd];
  });
}

/** End (ms from the start) of the last 20 ms window the emulator's VAD hears as speech. */
export function lastVoicedMs(pcm: Buffer, sampleRate: number): number {
  const windowBytes = (sampleRate * FRAME_MS * 2) / 1000;
  let end = 0;
  for (let offset = 0; offset + windowBytes <= pcm.length; offset += windowBytes) {
    if (rmsLevel(pcm.subarray(offset, offset + windowBytes)) >= DEFAULT_VAD_THRESHOLD_RMS) end = offset + windowBytes;
  }
  return (end / 2 / sampleRate) * 1000;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await runMediaDemo();
}
