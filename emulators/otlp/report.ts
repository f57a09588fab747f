/**
 * What the OTLP receiver got, for people: each call's trace as a tree (offsets from the call's first
 * span, durations, the attributes that say what happened) and a summary of every metric.
 */

import type { ReceivedPoint, ReceivedSpan } from './receiver.js';

const CALL_ID = 'rtvoice.call.id';
const SHOWN = ['rtvoice.turn.id', 'rtvoice.acs.event_type', 'rtvoice.operation', 'rtvoice.turn.latency_ms', 'rtvoice.turn.first_audio_ms', 'rtvoice.stage.delivery_ms', 'rtvoice.stage.redis_ms', 'rtvoice.stage.model_ms', 'rtvoice.stage.acs_ms', 'rtvoice.stage.vad_ms', 'rtvoice.stage.relay_ms', 'error.type'];

export interface CallTrace {
  readonly traceId: string;
  readonly callId: string | undefined;
  readonly spans: readonly ReceivedSpan[];
}

/** Spans grouped by trace, one trace per call (other traces — e.g. health checks — are kept apart). */
export function callTraces(spans: readonly ReceivedSpan[]): CallTrace[] {
  const byTrace = new Map<string, ReceivedSpan[]>();
  for (const span of spans) {
    let list = byTrace.get(span.traceId);
    if (!list) byTrace.set(span.traceId, (list = []));
    list.push(span);
  }
  return [...byTrace].map(([traceId, list]) => {
    list.sort((a, b) => a.startMs - b.startMs);
    const callId = list.find((s) => typeof s.attributes[CALL_ID] === 'string')?.attributes[CALL_ID] as string | undefined;
    return { traceId, callId, spans: list };
  });
}

export function printTraceTrees(spans: readonly ReceivedSpan[], print: (line: string) => void): void {
  for (const trace of callTraces(spans).filter((t) => t.callId !== undefined)) {
    const t0 = trace.spans[0]?.startMs ?? 0;
    print(`call ${trace.callId} · trace ${trace.traceId} · ${trace.spans.length} spans`);
    const ids = new Set(trace.spans.map((s) => s.spanId));
    const children = new Map<string | undefined, ReceivedSpan[]>();
    for (const span of trace.spans) {
      // The call's root is derived from its id and never exported: its children are the tree's roots.
      const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : undefined;
      let list = children.get(parent);
      if (!list) children.set(parent, (list = []));
      list.push(span);
    }
    const walk = (parent: string | undefined, depth: number) => {
      for (const span of children.get(parent) ?? []) {
        const shown = SHOWN.filter((k) => span.attributes[k] !== undefined).map((k) => `${k.replace(/^rtvoice\./, '')}=${String(span.attributes[k])}`);
        const status = span.status.code === 2 ? ' ✘' : '';
        print(`  ${'  '.repeat(depth)}${`+${(span.startMs - t0).toFixed(0)}ms`.padStart(8)} ${span.name} (${(span.endMs - span.startMs).toFixed(1)} ms)${status}${shown.length ? `  ${shown.join(' ')}` : ''}`);
        walk(span.spanId, depth + 1);
      }
    };
    walk(undefined, 0);
  }
}

export interface MetricSummaryLine {
  readonly metric: string;
  readonly attributes: string;
  readonly text: string;
}

/** The last point of every metric and attribute set (cumulative temporality: the last is the total). */
export function metricSummary(points: readonly ReceivedPoint[]): MetricSummaryLine[] {
  const last = new Map<string, ReceivedPoint>();
  for (const point of points) {
    const key = `${point.metric} ${JSON.stringify(point.attributes)}`;
    const previous = last.get(key);
    if (!previous || previous.timeMs <= point.timeMs) last.set(key, point);
  }
  return [...last.values()]
    .filter((p) => p.metric.startsWith('rtvoice.'))
    .sort((a, b) => a.metric.localeCompare(b.metric))
    .map((p) => {
      const attributes = Object.entries(p.attributes)
        .map(([k, v]) => `${k.replace(/^rtvoice\./, '')}=${String(v)}`)
        .join(' ');
      let text: string;
      if (p.kind === 'histogram') {
        const count = p.count ?? 0;
        text = `count ${count}, mean ${count ? ((p.sum ?? 0) / count).toFixed(1) : '—'} ${p.unit}, p50 ≤ ${bucketBound(p, 0.5)}, p95 ≤ ${bucketBound(p, 0.95)}`;
      } else {
        text = `${p.kind === 'sum' ? 'total' : 'value'} ${round(p.value ?? 0)} ${p.unit}`.trim();
      }
      return { metric: p.metric, attributes, text };
    });
}

export function printMetricSummary(points: readonly ReceivedPoint[], print: (line: string) => void): void {
  for (const line of metricSummary(points)) print(`  ${line.metric}${line.attributes ? ` {${line.attributes}}` : ''}: ${line.text}`);
}

function bucketBound(point: ReceivedPoint, quantile: number): string {
  const counts = point.bucketCounts ?? [];
  const bounds = point.explicitBounds ?? [];
  const total = counts.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (let i = 0; i < counts.length; i += 1) {
    seen += counts[i]!;
    if (total > 0 && seen >= quantile * total) return i < bounds.length ? `${bounds[i]} ${point.unit}` : `> ${bounds.at(-1)} ${point.unit}`;
  }
  return '—';
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
