/**
 * Azure OpenAI text-to-speech, emulated: `POST /openai/deployments/{deployment}/audio/speech?api-version=…`
 * (the route the `openai` package's `AzureOpenAI` client uses for `audio.speech.create`; the GA
 * `/openai/v1/audio/speech` with the deployment as `model` is accepted too). The answer is synthetic
 * PCM16 24 kHz mono, deterministic for a given text and voice, lasting `speechMsPerWord` per word.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { ToneGenerator } from './voice.js';
import { EMULATOR_SAMPLE_RATE_HZ } from './session.js';

export type SpeechRequestRecord = {
  readonly deployment: string;
  readonly input: string;
  readonly voice: string;
  readonly format: string;
  readonly bytes: number;
};

export type SpeechRouteOptions = {
  readonly deployment: string;
  readonly speechMsPerWord: number;
  readonly authorized: (req: IncomingMessage) => boolean;
  /** Every synthesis served (for tests that count them). */
  readonly requests: SpeechRequestRecord[];
};

const DEPLOYMENT_PATH = /^\/openai\/deployments\/([^/]+)\/audio\/speech$/;
const GA_PATH = '/openai/v1/audio/speech';
const MAX_BODY_BYTES = 64 * 1024;

/** Handles the request when it is a speech request; false when the path is not one. */
export async function handleSpeechRequest(req: IncomingMessage, res: ServerResponse, options: SpeechRouteOptions): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'https://emulator');
  const match = DEPLOYMENT_PATH.exec(url.pathname);
  if (!match && url.pathname !== GA_PATH) return false;
  const fail = (status: number, code: string, message: string): true => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message } }));
    return true;
  };
  if (req.method !== 'POST') return fail(405, 'MethodNotAllowed', 'Use POST.');
  if (match && !url.searchParams.get('api-version')) return fail(400, 'MissingApiVersionParameter', 'The api-version query parameter is required.');
  if (!options.authorized(req)) return fail(401, 'PermissionDenied', 'Access denied due to invalid subscription key or wrong API endpoint.');

  let body: Record<string, unknown>;
  try {
    body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
  } catch {
    return fail(400, 'BadRequest', 'The body must be JSON.');
  }
  const deployment = match ? decodeURIComponent(match[1]!) : String(body['model'] ?? '');
  if (deployment !== options.deployment) return fail(404, 'DeploymentNotFound', `The API deployment ${deployment} does not exist.`);
  const input = typeof body['input'] === 'string' ? body['input'] : '';
  const voice = typeof body['voice'] === 'string' ? body['voice'] : '';
  const format = typeof body['response_format'] === 'string' ? body['response_format'] : 'mp3';
  if (input.trim() === '' || voice === '') return fail(400, 'BadRequest', 'input and voice are required.');
  if (format !== 'pcm') return fail(400, 'UnsupportedFormat', 'The emulator only synthesises response_format pcm.');

  const audio = synthesize(input, voice, options.speechMsPerWord);
  options.requests.push({ deployment, input, voice, format, bytes: audio.length });
  res.writeHead(200, { 'content-type': 'audio/pcm', 'content-length': audio.length });
  res.end(audio);
  return true;
}

/** A tone whose pitch depends on text and voice (so different prompts differ), `msPerWord` per word. */
export function synthesize(text: string, voice: string, msPerWord: number): Buffer {
  const words = text.trim().split(/\s+/).length;
  const seed = createHash('sha256').update(`${voice}\u0000${text}`).digest().readUInt16BE(0);
  const tone = new ToneGenerator(EMULATOR_SAMPLE_RATE_HZ, 180 + (seed % 200), 0.3);
  return tone.next(Math.max(20, words * msPerWord));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
