import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../emulators/realtime/tls.js';
import { createLogger } from '../../src/lib/telemetry/logger.js';
import { shutdownTelemetry, startTelemetry } from '../../src/lib/telemetry/otel.js';
import { callTraceId, inSpan, SpanKind } from '../../src/lib/telemetry/tracing.js';

/**
 * The Azure Monitor pipeline (`useAzureMonitor`) end to end, with the connection string's ingestion
 * endpoint pointing at a local HTTP server standing in for Application Insights' track endpoint (the
 * service itself cannot run here; the exporter always speaks HTTPS, so the stand-in has a self-signed
 * certificate and this test process, alone, does not verify certificates): spans arrive as request/dependency envelopes with the call id as a
 * custom dimension, logs as traces with their fields as custom dimensions, nothing with a number.
 */
type Envelope = { name: string; tags?: Record<string, string>; data?: { baseType?: string; baseData?: Record<string, unknown> } };

let server: Server;
const envelopes: Envelope[] = [];

beforeAll(async () => {
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  server = createServer(await selfSignedCertificate(), (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (/gzip/i.test(String(req.headers['content-encoding'] ?? ''))) body = gunzipSync(body);
      if (req.url?.includes('/track')) {
        const text = body.toString('utf8').trim();
        const items = (text.startsWith('[') ? (JSON.parse(text) as Envelope[]) : text.split('\n').map((l) => JSON.parse(l) as Envelope));
        envelopes.push(...items);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
      } else {
        res.writeHead(200).end('{}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await startTelemetry({
    APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://127.0.0.1:${port}/;LiveEndpoint=https://127.0.0.1:${port}/`,
  });
}, 30_000);

afterAll(async () => {
  await shutdownTelemetry().catch(() => undefined);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('telemetry to Azure Monitor (useAzureMonitor)', () => {
  it('exports call spans and structured logs as App Insights items with custom dimensions', async () => {
    const logger = createLogger(() => undefined, 'info');
    await inSpan('callback RecognizeCompleted', { callId: 'in-azmon1', kind: SpanKind.SERVER, attributes: { 'rtvoice.turn.id': 'evt-1' } }, async () => {
      await inSpan('redis conversation.flush', {}, async () => undefined);
      logger.info('turn answered', { callId: 'in-azmon1', caller: '+15550100123', turn: 3 });
    });
    await shutdownTelemetry();
    const byType = (type: string) => envelopes.filter((e) => e.data?.baseType === type);
    const request = byType('RequestData').find((e) => e.data?.baseData?.name === 'callback RecognizeCompleted');
    expect(request, JSON.stringify(envelopes.map((e) => e.data?.baseType))).toBeDefined();
    expect(request!.tags?.['ai.operation.id']).toBe(callTraceId('in-azmon1'));
    expect(request!.data!.baseData!.properties).toMatchObject({ 'rtvoice.call.id': 'in-azmon1', 'rtvoice.turn.id': 'evt-1' });
    const dependency = byType('RemoteDependencyData').find((e) => e.data?.baseData?.name === 'redis conversation.flush');
    expect(dependency!.data!.baseData!.properties).toMatchObject({ 'rtvoice.call.id': 'in-azmon1' });
    const log = byType('MessageData').find((e) => e.data?.baseData?.message === 'turn answered');
    expect(log!.tags?.['ai.operation.id']).toBe(callTraceId('in-azmon1'));
    expect(log!.data!.baseData!.properties).toMatchObject({ callId: 'in-azmon1', caller: '+1•••••••123', turn: '3' });
    expect(JSON.stringify(envelopes)).not.toMatch(/5550100\d{3}/);
  }, 30_000);
});
