import type { AcsEmulator, CallerStep, CallRecording } from '../../emulators/acs/index.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';

/**
 * The simulated callers: a population of `concurrency` scripted callers, each placing one call after
 * another through the ACS emulator until the phase's deadline, so that many calls are live at every
 * moment. What each caller said, and how long it waited for the agent, is kept for the checks.
 */
export type CallPath = 'recognize' | 'media';

export const APP_NUMBER = '+15550100000';
const QUESTIONS = [
  'What are your opening hours on Saturday',
  'Where is my order',
  'How do I change my address',
  'I have a question about my bill',
  'Are you open on public holidays',
  'Can I pay by card',
];
const GOODBYE = "Thanks, that's all. Goodbye!";
/** Milliseconds of caller audio per utterance on the media path. */
const SAY_MS = 500;

export interface CallOutcome {
  readonly path: CallPath;
  readonly phase: string;
  readonly callId: string;
  readonly callConnectionId: string | undefined;
  readonly answered: boolean;
  /** What the caller said that reached the app (recognize results or media), in order. */
  readonly said: readonly string[];
  /** Utterances nobody was listening for (dead air). */
  readonly unheard: number;
  /** The caller's waits for the agent: spoke (or connected) → the agent's next prompt or audio. */
  readonly waitsMs: readonly number[];
  readonly endedBy: CallRecording['endedBy'];
  readonly expectedEnd: CallRecording['endedBy'];
  readonly notes: readonly string[];
  readonly startedAt: number;
  readonly durationMs: number;
}

export interface PopulationOptions {
  readonly acs: AcsEmulator;
  readonly eventGridUrl: string;
  readonly path: CallPath;
  readonly phase: string;
  readonly concurrency: number;
  /** No caller places a new call after this long; calls in progress finish. */
  readonly durationMs: number;
  /** Questions per call (the goodbye comes on top on the recognize path). */
  readonly questions: number;
  /** The caller's pause before answering each prompt (recognize path). */
  readonly thinkMs: number;
  /** First calls are spread over this long, so the population does not ring all at once. */
  readonly staggerMs: number;
  readonly onOutcome?: (outcome: CallOutcome) => void;
}

let callerNumber = 0;

/** A fresh caller number per call (a new caller: the profile lookup is a Cosmos point read). */
function nextCallerNumber(): string {
  callerNumber += 1;
  return `+1555${String(3_000_000 + callerNumber).padStart(7, '0')}`;
}

export async function runPopulation(options: PopulationOptions): Promise<CallOutcome[]> {
  const outcomes: CallOutcome[] = [];
  const deadline = performance.now() + options.durationMs;
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, index) => {
      await new Promise((resolve) => setTimeout(resolve, (options.staggerMs * index) / options.concurrency));
      let sequence = 0;
      while (performance.now() < deadline) {
        const outcome = await placeOne(options, index + sequence * options.concurrency);
        sequence += 1;
        outcomes.push(outcome);
        options.onOutcome?.(outcome);
      }
    }),
  );
  return outcomes;
}

async function placeOne(options: PopulationOptions, n: number): Promise<CallOutcome> {
  const questions = Array.from({ length: options.questions }, (_, i) => QUESTIONS[(n + i) % QUESTIONS.length] as string);
  const steps = options.path === 'recognize' ? recognizeScript(questions, options.thinkMs) : mediaScript(questions);
  const startedAt = Date.now();
  const from = nextCallerNumber();
  let recording: CallRecording;
  try {
    recording = await options.acs.placeCall({ from, to: APP_NUMBER, steps }, { eventGridUrl: options.eventGridUrl, maxDurationMs: 120_000, answerTimeoutMs: 30_000 });
  } catch (error) {
    // The IncomingCall delivery itself failed (the app did not respond in time): a call that never rang through.
    return unplaced(options, startedAt, `IncomingCall delivery failed: ${(error as Error).message}`);
  }
  const heardBy = options.path === 'recognize' ? 'recognize' : 'media';
  return {
    path: options.path,
    phase: options.phase,
    callId: callIdForIncoming(recording.serverCallId),
    callConnectionId: recording.callConnectionId,
    answered: recording.answered,
    said: recording.said.filter((s) => s.via === heardBy).map((s) => s.text ?? s.tones ?? ''),
    unheard: recording.said.filter((s) => s.via === 'unheard').length,
    waitsMs: options.path === 'recognize' ? promptWaits(recording) : audioWaits(recording),
    endedBy: recording.endedBy,
    expectedEnd: options.path === 'recognize' ? 'app' : 'caller',
    notes: recording.notes,
    startedAt,
    durationMs: recording.durationMs,
  };
}

function unplaced(options: PopulationOptions, startedAt: number, note: string): CallOutcome {
  return {
    path: options.path,
    phase: options.phase,
    callId: `unplaced-${startedAt}-${Math.random().toString(36).slice(2, 8)}`,
    callConnectionId: undefined,
    answered: false,
    said: [],
    unheard: 0,
    waitsMs: [],
    endedBy: 'unanswered',
    expectedEnd: options.path === 'recognize' ? 'app' : 'caller',
    notes: [note],
    startedAt,
    durationMs: Date.now() - startedAt,
  };
}

/** Greeting, questions with a pause before each answer, then goodbye: the agent says goodbye and hangs up. */
function recognizeScript(questions: readonly string[], thinkMs: number): CallerStep[] {
  const steps: CallerStep[] = [{ waitFor: 'greeting', quietMs: 200, timeoutMs: 30_000 }];
  for (const q of [...questions, GOODBYE]) steps.push({ pause: thinkMs }, { say: q, timeoutMs: 30_000 });
  // The agent's goodbye, then its hang-up.
  steps.push({ waitFor: 'agentSilence', quietMs: 200, timeoutMs: 30_000 }, { pause: 30_000 });
  return steps;
}

/** Greeting, then each question streamed as audio and the answer listened to; the caller hangs up. */
function mediaScript(questions: readonly string[]): CallerStep[] {
  const steps: CallerStep[] = [{ waitFor: 'greeting', quietMs: 600, timeoutMs: 30_000 }];
  // quietMs spans the realtime VAD's 500 ms end-of-speech window, so the wait does not end before the answer starts.
  for (const q of questions) steps.push({ say: q, audioMs: SAY_MS }, { waitFor: 'agentSilence', quietMs: 800, timeoutMs: 30_000 });
  steps.push({ hangUp: true });
  return steps;
}

const PROMPTING = new Set(['play', 'recognize', 'terminateCall', 'hangupCall', 'transferToParticipant']);

/**
 * Recognize/play path: from the moment the caller's line connected (CallConnected) or its words were
 * recognized (RecognizeCompleted queued by ACS) to the app's next prompt request reaching ACS.
 */
function promptWaits(recording: CallRecording): number[] {
  const waits: number[] = [];
  for (const event of recording.events) {
    if (event.type !== 'CallConnected' && event.type !== 'RecognizeCompleted') continue;
    const reply = recording.requests.find((r) => r.atMs >= event.queuedAtMs && PROMPTING.has(r.operation));
    if (reply) waits.push(reply.atMs - event.queuedAtMs);
  }
  return waits;
}

/** Media path: end of the caller's speech → the first agent audio after it (end-of-speech detection included). */
function audioWaits(recording: CallRecording): number[] {
  const audio = recording.heard.filter((h) => h.kind === 'audio').map((h) => h.atMs).sort((a, b) => a - b);
  return recording.said.flatMap((said) => {
    const spokenEnd = said.atMs + SAY_MS;
    const next = audio.find((at) => at >= spokenEnd);
    return next === undefined ? [] : [next - spokenEnd];
  });
}
