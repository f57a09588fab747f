import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../../emulators/otlp/receiver.js';
import { callTraces } from '../../emulators/otlp/report.js';
import { callTraceId } from '../../src/lib/telemetry/tracing.js';

/**
 * Acceptance: `npm run demo` with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local OTLP/HTTP receiver
 * exports every call's trace and the metrics, and no phone number of the demo's callers appears in
 * any span, event, log or metric attribute.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
// Every number the demo dials or is dialled from, and any E.164-looking run of digits.
const DEMO_NUMBERS = /5550100\d{3}/;
const E164 = /\+\d{8,15}(?!\d)/;

let receiver: OtlpReceiver;
let exitCode: number | null;
let output = '';

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  const child = spawn(process.execPath, ['--import', 'tsx', 'emulators/demo.ts'], {
    cwd: root,
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      OTEL_SERVICE_NAME: 'rtvoice-test',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
}, 120_000);

afterAll(async () => {
  await receiver?.close();
});

describe('a demo run exporting OTLP/HTTP to a local receiver', () => {
  it('runs the demo to the end', () => {
    expect(exitCode, output).toBe(0);
    expect(receiver.requests['/v1/traces 200']).toBeGreaterThan(0);
    expect(receiver.requests['/v1/metrics 200']).toBeGreaterThan(0);
  });

  it('exports each call as one trace: the answer, every callback turn through Redis, the model and ACS', () => {
    const calls = callTraces(receiver.spans).filter((t) => t.callId !== undefined);
    const callIds = new Set(calls.map((t) => t.callId));
    // Three inbound calls and one outbound call.
    expect(callIds.size).toBe(4);
    for (const callId of callIds) {
      const traces = calls.filter((t) => t.callId === callId);
      // One trace per call, whose id is derived from the call id.
      expect(traces.map((t) => t.traceId)).toEqual([callTraceId(callId!)]);
      const spans = traces[0]!.spans;
      const names = spans.map((s) => s.name);
      const count = (name: string) => names.filter((n) => n === name).length;
      if (callId!.startsWith('in-')) expect(count('incomingCall answer')).toBe(1);
      expect(count('callback CallConnected')).toBe(1);
      expect(count('callback RecognizeCompleted')).toBeGreaterThanOrEqual(2);
      expect(count('callback CallDisconnected')).toBe(1);
      expect(count('model respond')).toBe(count('callback RecognizeCompleted'));
      expect(count('redis conversation.flush')).toBeGreaterThanOrEqual(count('callback RecognizeCompleted'));
      expect(count('acs startRecognizing')).toBeGreaterThanOrEqual(2);
      // Spans carry the call id, and each callback span its turn id (the ACS event id).
      expect(spans.every((s) => s.attributes['rtvoice.call.id'] === callId)).toBe(true);
      for (const s of spans.filter((s) => s.name.startsWith('callback '))) expect(s.attributes['rtvoice.turn.id']).toEqual(expect.any(String));
      // A turn's model and ACS spans are children of its callback span.
      const turn = spans.find((s) => s.name === 'callback RecognizeCompleted')!;
      const children = spans.filter((s) => s.parentSpanId === turn.spanId).map((s) => s.name);
      expect(children).toEqual(expect.arrayContaining(['model respond', 'redis conversation.flush']));
      expect(children.some((n) => n === 'acs startRecognizing' || n === 'acs playToAll')).toBe(true);
      console.log(`${callId}: ${spans.length} spans`);
    }
  });

  it('exports the turn latency from the ACS event time with its stages, and the baselines and state gauges', () => {
    const metric = (name: string) => receiver.points.filter((p) => p.metric === name);
    const turns = metric('rtvoice.turn.latency').filter((p) => p.attributes['rtvoice.acs.event_type'] === 'RecognizeCompleted');
    expect(Math.max(...turns.map((p) => p.count ?? 0))).toBeGreaterThan(0);
    const stages = new Set(metric('rtvoice.turn.stage.duration').map((p) => p.attributes['rtvoice.stage']));
    expect([...stages]).toEqual(expect.arrayContaining(['delivery', 'redis', 'model', 'acs']));
    expect(metric('rtvoice.redis.latency.p99').length).toBeGreaterThan(0);
    expect(metric('rtvoice.state.persistence.p99').length).toBeGreaterThan(0);
    expect(metric('rtvoice.redis.pool.utilization').length).toBeGreaterThan(0);
    expect(metric('rtvoice.state.breaker.state').every((p) => p.value === 0)).toBe(true);
    expect(metric('rtvoice.state.journal.depth').length).toBeGreaterThan(0);
    expect(metric('rtvoice.redis.duration').some((p) => (p.count ?? 0) > 0)).toBe(true);
    expect(metric('rtvoice.cosmos.request_charge').some((p) => (p.value ?? 0) > 0)).toBe(true);
  });

  it('lets no phone number through in any attribute, event, name or log', () => {
    const exported = JSON.stringify({ spans: receiver.spans, points: receiver.points.map((p) => p.attributes), logs: receiver.logs });
    expect(exported).not.toMatch(DEMO_NUMBERS);
    expect(exported).not.toMatch(E164);
  });
});
