import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startOtlpReceiver, type OtlpReceiver } from '../../emulators/otlp/receiver.js';
import { RedactingSpanProcessor } from '../../src/lib/telemetry/redaction.js';
import { createLogger } from '../../src/lib/telemetry/logger.js';
import { shutdownTelemetry, startTelemetry } from '../../src/lib/telemetry/otel.js';
import { callTraceId, inSpan } from '../../src/lib/telemetry/tracing.js';

describe('the redacting span processor (the safety net under every exporter)', () => {
  it('masks phone-number-like values in attributes, events, status and names, and drops secret-named attributes', async () => {
    // Prepare: a provider whose exporter runs after the redacting processor, as in otel.ts.
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new RedactingSpanProcessor(), new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('test');
    // Act: what a library might put on a span.
    const span = tracer.startSpan('POST /calling/+15550100123');
    span.setAttribute('url.full', 'https://acs.example/calling?to=%2B15550100123&code=abc123secret');
    span.setAttribute('target', '4:+1 (555) 010-0123');
    span.setAttribute('list', ['+15550100456', 'ok']);
    span.setAttribute('db.connectionString', 'password=hunter2');
    span.setAttribute('rtvoice.call.id', 'in-abc123');
    span.addEvent('exception', { 'exception.message': 'no participant +15550100777' });
    span.setStatus({ code: 2, message: 'failed for +15550100999' });
    span.end();
    await provider.forceFlush();
    // Assess
    const [out] = exporter.getFinishedSpans();
    const text = JSON.stringify({ name: out!.name, attributes: out!.attributes, events: out!.events, status: out!.status });
    expect(text).not.toMatch(/5550100\d{3}|555\) 010-0123/);
    expect(text).not.toContain('abc123secret');
    expect(out!.attributes['db.connectionString']).toBeUndefined();
    expect(out!.attributes['rtvoice.call.id']).toBe('in-abc123');
    expect(out!.attributes.target).toBe('4:+1•••••••123');
  });
});

describe('logs through OpenTelemetry', () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    await startTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_METRICS_EXPORTER: 'none' });
  });
  afterAll(async () => {
    await shutdownTelemetry();
    await receiver.close();
  });

  it('carry structured fields as attributes (custom dimensions) and the call trace id, with numbers masked', async () => {
    const lines: string[] = [];
    const logger = createLogger((_level, message) => lines.push(message), 'info');
    await inSpan('callback RecognizeCompleted', { callId: 'in-logtest1' }, async () => {
      logger.info('call answered', { callId: 'in-logtest1', caller: '+15550100123', attempt: 2, error: new Error('bad +15550100456') });
    });
    await shutdownTelemetry();
    const record = receiver.logs.find((l) => l.body === 'call answered');
    expect(record).toBeDefined();
    expect(record!.attributes).toMatchObject({ callId: 'in-logtest1', attempt: 2, 'error.name': 'Error' });
    expect(record!.attributes.caller).toBe('+1•••••••123');
    expect(record!.traceId).toBe(callTraceId('in-logtest1'));
    expect(JSON.stringify(receiver.logs)).not.toMatch(/5550100\d{3}/);
    expect(lines).toEqual(['call answered']);
  });
});
