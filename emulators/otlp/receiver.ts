/**
 * A small OTLP/HTTP receiver for the offline stack: `POST /v1/traces`, `/v1/metrics` and `/v1/logs`
 * with the OTLP JSON encoding (`Content-Type: application/json`, optionally gzip), answering as the
 * OTLP specification says (200 with an empty partial-success object). Protobuf bodies are refused with
 * 415 and the reason: the app's exporters speak JSON when `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`,
 * which the demo sets; a real collector takes either.
 *
 * What arrives is kept in memory, flattened (attributes as plain objects), for the demo's report and
 * the tests.
 */

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AttributeMap = Record<string, unknown>;

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: AttributeMap;
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: AttributeMap }>;
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>;
  readonly status: { readonly code: number; readonly message?: string };
  readonly scope: string;
  readonly resource: AttributeMap;
}

export interface ReceivedPoint {
  readonly metric: string;
  readonly unit: string;
  readonly kind: 'sum' | 'gauge' | 'histogram' | 'other';
  readonly attributes: AttributeMap;
  readonly value?: number;
  readonly count?: number;
  readonly sum?: number;
  readonly bucketCounts?: readonly number[];
  readonly explicitBounds?: readonly number[];
  readonly timeMs: number;
}

export interface ReceivedLog {
  readonly body: unknown;
  readonly severityText: string | undefined;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  readonly attributes: AttributeMap;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  readonly points: ReceivedPoint[];
  readonly logs: ReceivedLog[];
  /** Requests by path and status, e.g. `{ '/v1/traces 200': 3 }`. */
  readonly requests: Record<string, number>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function startOtlpReceiver(options: { port?: number; host?: string } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const points: ReceivedPoint[] = [];
  const logs: ReceivedLog[] = [];
  const requests: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const reply = (status: number, body: unknown) => {
      requests[`${path} ${status}`] = (requests[`${path} ${status}`] ?? 0) + 1;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || !['/v1/traces', '/v1/metrics', '/v1/logs'].includes(path)) {
      reply(404, { code: 5, message: `no OTLP signal at ${req.method} ${path}` });
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      reply(415, { code: 3, message: `this receiver reads the OTLP JSON encoding only (got ${type || 'no content type'}); set OTEL_EXPORTER_OTLP_PROTOCOL=http/json` });
      return;
    }
    readBody(req)
      .then((raw) => {
        const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
        if (path === '/v1/traces') spans.push(...flattenTraces(body));
        else if (path === '/v1/metrics') points.push(...flattenMetrics(body));
        else logs.push(...flattenLogs(body));
        reply(200, { partialSuccess: {} });
      })
      .catch((error: unknown) => reply(400, { code: 3, message: `unreadable OTLP body: ${(error as Error).message}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    points,
    logs,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  return /gzip/i.test(String(req.headers['content-encoding'] ?? '')) ? gunzipSync(raw) : raw;
}

type OtlpKeyValue = { key: string; value: OtlpAnyValue };
type OtlpAnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: OtlpAnyValue[] }; kvlistValue?: { values?: OtlpKeyValue[] }; bytesValue?: string };

export function anyValue(value: OtlpAnyValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(anyValue);
  if (value.kvlistValue) return attributes(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return undefined;
}

function attributes(list: OtlpKeyValue[] | undefined): AttributeMap {
  const out: AttributeMap = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

const nanosToMs = (nanos: unknown) => Number(BigInt(String(nanos ?? 0)) / 1000n) / 1000;

/** OTLP JSON ids are hex strings (the spec's JSON mapping); some encoders send base64. */
function hexId(id: unknown): string | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  if (/^[\da-f]+$/i.test(id)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

function flattenTraces(body: Record<string, unknown>): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (body.resourceSpans as Record<string, unknown>[] | undefined) ?? []) {
    const resource = attributes((rs.resource as { attributes?: OtlpKeyValue[] } | undefined)?.attributes);
    for (const ss of (rs.scopeSpans as Record<string, unknown>[] | undefined) ?? []) {
      const scope = String((ss.scope as { name?: string } | undefined)?.name ?? '');
      for (const s of (ss.spans as Record<string, unknown>[] | undefined) ?? []) {
        out.push({
          traceId: hexId(s.traceId) ?? '',
          spanId: hexId(s.spanId) ?? '',
          parentSpanId: hexId(s.parentSpanId),
          name: String(s.name ?? ''),
          kind: Number(s.kind ?? 0),
          startMs: nanosToMs(s.startTimeUnixNano),
          endMs: nanosToMs(s.endTimeUnixNano),
          attributes: attributes(s.attributes as OtlpKeyValue[] | undefined),
          events: ((s.events as Record<string, unknown>[] | undefined) ?? []).map((e) => ({ name: String(e.name ?? ''), attributes: attributes(e.attributes as OtlpKeyValue[] | undefined) })),
          links: ((s.links as Record<string, unknown>[] | undefined) ?? []).map((l) => ({ traceId: hexId(l.traceId) ?? '', spanId: hexId(l.spanId) ?? '' })),
          status: { code: Number((s.status as { code?: number } | undefined)?.code ?? 0), ...((s.status as { message?: string } | undefined)?.message ? { message: (s.status as { message: string }).message } : {}) },
          scope,
          resource,
        });
      }
    }
  }
  return out;
}

function flattenMetrics(body: Record<string, unknown>): ReceivedPoint[] {
  const out: ReceivedPoint[] = [];
  for (const rm of (body.resourceMetrics as Record<string, unknown>[] | undefined) ?? []) {
    for (const sm of (rm.scopeMetrics as Record<string, unknown>[] | undefined) ?? []) {
      for (const m of (sm.metrics as Record<string, unknown>[] | undefined) ?? []) {
        const metric = String(m.name ?? '');
        const unit = String(m.unit ?? '');
        const kind = m.sum ? 'sum' : m.gauge ? 'gauge' : m.histogram ? 'histogram' : 'other';
        const data = (m.sum ?? m.gauge ?? m.histogram ?? {}) as { dataPoints?: Record<string, unknown>[] };
        for (const p of data.dataPoints ?? []) {
          const value = p.asDouble !== undefined ? Number(p.asDouble) : p.asInt !== undefined ? Number(p.asInt) : undefined;
          out.push({
            metric,
            unit,
            kind,
            attributes: attributes(p.attributes as OtlpKeyValue[] | undefined),
            ...(value === undefined ? {} : { value }),
            ...(p.count === undefined ? {} : { count: Number(p.count) }),
            ...(p.sum === undefined ? {} : { sum: Number(p.sum) }),
            ...(p.bucketCounts ? { bucketCounts: (p.bucketCounts as unknown[]).map(Number) } : {}),
            ...(p.explicitBounds ? { explicitBounds: (p.explicitBounds as unknown[]).map(Number) } : {}),
            timeMs: nanosToMs(p.timeUnixNano),
          });
        }
      }
    }
  }
  return out;
}

function flattenLogs(body: Record<string, unknown>): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const rl of (body.resourceLogs as Record<string, unknown>[] | undefined) ?? []) {
    for (const sl of (rl.scopeLogs as Record<string, unknown>[] | undefined) ?? []) {
      for (const l of (sl.logRecords as Record<string, unknown>[] | undefined) ?? []) {
        out.push({
          body: anyValue(l.body as OtlpAnyValue | undefined),
          severityText: typeof l.severityText === 'string' ? l.severityText : undefined,
          traceId: hexId(l.traceId),
          spanId: hexId(l.spanId),
          attributes: attributes(l.attributes as OtlpKeyValue[] | undefined),
        });
      }
    }
  }
  return out;
}
