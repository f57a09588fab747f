import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CallBridge } from '../../src/lib/media/call-bridge.js';
import type { AgentSessionFactory } from '../../src/lib/media/agent-port.js';
import { buildAudioMetadataFrame, buildInboundAudioDataFrame, parseMediaFrame, parseMediaFrameGeneric, validateAudioPayload, type MediaFrame } from '../../src/lib/media/codec.js';
import { ConversationManager } from '../../src/lib/state/conversation/conversation-manager.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { openStore, randomId, type StoreHandle } from '../state/support/store.js';

/**
 * One media-frame validator. The AudioData fast path and the full parser agree by construction; the
 * property below checks it over frames built near the fast grammar and mutated at random. Invalid
 * base64, half samples, unknown kinds and rate changes are refused, counted per call and logged once
 * per reason, and the frame handler never throws.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

type Outcome = { ok: true; frame: MediaFrame } | { ok: false };

function outcome(parse: () => MediaFrame): Outcome {
  try {
    return { ok: true, frame: parse() };
  } catch {
    return { ok: false };
  }
}

/** The full parser followed by the same payload validation: what the fast path must equal. */
function viaGenericParser(text: string): MediaFrame {
  const frame = parseMediaFrameGeneric(text);
  if (frame.kind === 'AudioData') validateAudioPayload(frame.data);
  return frame;
}

const base64Payload = fc.uint8Array({ minLength: 0, maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64'));
const jsonishString = fc.oneof(
  base64Payload,
  fc.string({ maxLength: 12 }),
  fc.constantFrom('ab\\u002BcdA==', 'AAAA\\"', 'AA\nAA', '', 'AA==AA==', '4:+15550100123', '\\\\'),
);
const memberValue = fc.oneof(
  jsonishString.map((v) => `"${v}"`),
  fc.constantFrom('true', 'false', 'null', '1', '{}', '"x"'),
);
const memberKey = fc.constantFrom('data', 'timestamp', 'participantRawID', 'silent', 'Data', 'extra', 'kind');
const member = fc.tuple(memberKey, memberValue).map(([k, v]) => `"${k}":${v}`);
const nearFastFrame = fc
  .tuple(
    fc.array(member, { minLength: 0, maxLength: 5 }),
    fc.constantFrom('', ',"kind":"DtmfData"', ',"data":"AAAA"', 'x', ' ', ',"dtmfData":{"data":"1"}'),
    fc.constantFrom('{"kind":"AudioData","audioData":{', '{"kind":"AudioData","audioData":{ ', '{"Kind":"AudioData","audioData":{'),
  )
  .map(([members, tail, prefix]) => `${prefix}${members.join(',')}}${tail}}`);
const mutated = fc.tuple(nearFastFrame, fc.nat(), fc.string({ maxLength: 3 })).map(([text, at, insert]) => {
  const i = at % (text.length + 1);
  return text.slice(0, i) + insert + text.slice(i);
});

describe('the media-frame validator', () => {
  it('parses every frame the fast path takes exactly as the full parser does (property)', () => {
    fc.assert(
      fc.property(fc.oneof(nearFastFrame, mutated, fc.string()), (text) => {
        expect(outcome(() => parseMediaFrame(text))).toEqual(outcome(() => viaGenericParser(text)));
      }),
      { seed: SEED, numRuns: 5_000 },
    );
  });

  it('refuses the frames the former fast path accepted: invalid JSON, data outside audioData, a second kind', () => {
    const data = Buffer.alloc(4).toString('base64');
    const frames = [
      `{"kind":"AudioData","audioData":{"data":"${data}"}} garbage}}`,
      `{"kind":"AudioData","audioData":{"timestamp":"t"},"data":"${data}"}}`,
      `{"kind":"AudioData","audioData":{"data":"${data}"},"kind":"StopAudio"}}`,
    ];
    for (const text of frames) expect(outcome(() => parseMediaFrame(text)), text).toEqual(outcome(() => viaGenericParser(text)));
    expect(outcome(() => parseMediaFrame(frames[0]!))).toEqual({ ok: false });
  });

  it('refuses invalid base64 and odd-length PCM, with their reasons', () => {
    const reasonOf = (data: string) => {
      try {
        parseMediaFrame(buildInboundAudioDataFrame({ data }));
        return 'ok';
      } catch (error) {
        return (error as { reason?: string }).reason;
      }
    };
    expect(reasonOf(Buffer.alloc(640).toString('base64'))).toBe('ok');
    expect(reasonOf('AA$A')).toBe('invalid-base64');
    expect(reasonOf('AAA')).toBe('invalid-base64');
    expect(reasonOf(Buffer.alloc(3).toString('base64'))).toBe('odd-length');
  });
});

describe('the relay frame handler', () => {
  let h: StoreHandle;
  beforeAll(async () => {
    h = await openStore(inject('redisPort'));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('never throws, counts refused frames per reason, logs each reason once, and keeps the stream rate', async () => {
    // Prepare: a recording agent session (the port's own shape; the model is not what is under test).
    const appended: string[] = [];
    const agent: AgentSessionFactory = async () => ({
      appendAudio: (audio) => appended.push(audio),
      requestResponse: () => undefined,
      respondTo: () => undefined,
      update: () => ({ voiceChanged: false }),
      cancelResponse: () => undefined,
      truncate: () => '',
      close: async () => undefined,
    });
    const warnings: string[] = [];
    const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (message, fields) => warnings.push(`${message}:${String(fields?.reason)}`), error: () => undefined };
    const callId = randomId();
    const bridge = new CallBridge({ callId, conversation: await ConversationManager.fromRedis(callId, h.store), send: () => undefined, agent, logger, acsSampleRateHz: 16000 });
    await bridge.start();
    const frame16k = buildInboundAudioDataFrame({ data: Buffer.alloc(640).toString('base64') });

    // Act
    const frames = [
      frame16k,
      buildInboundAudioDataFrame({ data: Buffer.alloc(641).toString('base64') }),
      buildInboundAudioDataFrame({ data: Buffer.alloc(641).toString('base64') }),
      buildInboundAudioDataFrame({ data: 'not base64!' }),
      '{"kind":"Hologram","hologram":{}}',
      '{"kind":"AudioData"',
      buildAudioMetadataFrame({ subscriptionId: 's', sampleRateHz: 24000 }),
      frame16k,
    ];
    for (const text of frames) expect(() => bridge.onInboundFrame(text)).not.toThrow();

    // Assess: two good frames reached the agent, both resampled from 16 kHz (640 bytes → about 960;
    // had the refused AudioMetadata switched the stream to 24 kHz, the second would pass through as 640).
    expect(appended).toHaveLength(2);
    for (const audio of appended) expect(Buffer.from(audio, 'base64').length).toBeGreaterThan(900);
    expect(bridge.stats.refusedFrames).toEqual({ 'odd-length': 2, 'invalid-base64': 1, 'unknown-kind': 1, 'not-json': 1, 'rate-change': 1 });
    expect(warnings.filter((w) => w.startsWith('media frame refused'))).toEqual([
      'media frame refused:odd-length',
      'media frame refused:invalid-base64',
      'media frame refused:unknown-kind',
      'media frame refused:not-json',
      'media frame refused:rate-change',
    ]);
    await bridge.close();
  });
});
