/**
 * Starts OpenTelemetry for this process, once, when the environment asks for it (see
 * `otel-config.ts`). Every SDK is imported here, lazily, so an unconfigured process never loads one.
 *
 * Azure: `useAzureMonitor` from `@azure/monitor-opentelemetry` with the connection string and, with
 * Entra ID ingestion, a `ManagedIdentityCredential` (the identity needs Monitoring Metrics Publisher
 * on the Application Insights resource). Offline, or beside Azure Monitor: OTLP/HTTP exporters that
 * read the standard `OTEL_EXPORTER_OTLP_*` variables themselves (endpoint, per-signal endpoints,
 * headers, timeout, protocol `http/json` or `http/protobuf`).
 *
 * Both pipelines put the redacting processors ahead of every exporter, send our logger's records as
 * OpenTelemetry log records (structured fields as attributes, i.e. App Insights custom dimensions,
 * correlated with the active trace) and trace the Azure SDKs' own calls (ACS, Cosmos, Web PubSub).
 */

import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { LogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { APP_VERSION } from '../version.js';
import { setTelemetryLogSink, type LogFields, type LogLevel } from './logger.js';
import { bridgeProcessLatency, activateMetrics } from './metrics.js';
import { entraIngestion, metricExportIntervalMs, otlpProtocol, otlpUrl, signalEnabled, telemetryPlan, type Env, type TelemetryPlan } from './otel-config.js';

export interface RunningTelemetry {
  readonly plan: TelemetryPlan;
  /** Exports what is buffered (spans, metrics, logs). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let running: Promise<RunningTelemetry | undefined> | undefined;

/**
 * Starts telemetry when configured; resolves undefined when nothing is configured. Safe to call from
 * every entry point (the app's start hook, the relay host, the offline stack): the first call wins.
 */
export function startTelemetry(env: Env = process.env): Promise<RunningTelemetry | undefined> {
  running ??= start(env).catch((error: unknown) => {
    running = undefined;
    throw error;
  });
  return running;
}

/** The running telemetry, if a start has completed. */
export async function currentTelemetry(): Promise<RunningTelemetry | undefined> {
  return running ? running.catch(() => undefined) : undefined;
}

/** Flushes and stops; the next `startTelemetry` starts afresh. */
export async function shutdownTelemetry(): Promise<void> {
  const pending = running;
  running = undefined;
  const telemetry = await pending?.catch(() => undefined);
  await telemetry?.shutdown();
}

async function start(env: Env): Promise<RunningTelemetry | undefined> {
  const plan = telemetryPlan(env);
  if (!plan.azureMonitor && !plan.otlp) return undefined;
  const [{ RedactingLogRecordProcessor, RedactingSpanProcessor }, { CallSpanProcessor }, otlp] = await Promise.all([
    import('./redaction.js'),
    import('./call-span-processor.js'),
    plan.otlp ? otlpPipeline(env) : undefined,
  ]);
  const spanProcessors: SpanProcessor[] = [new CallSpanProcessor(), new RedactingSpanProcessor(), ...(otlp?.spanProcessors ?? [])];
  const logRecordProcessors: LogRecordProcessor[] = [new RedactingLogRecordProcessor(), ...(otlp?.logRecordProcessors ?? [])];
  const metricReaders = otlp?.metricReaders ?? [];

  let stop: () => Promise<void>;
  let flush: () => Promise<void>;
  if (plan.azureMonitor) {
    const { useAzureMonitor, shutdownAzureMonitor, _getSdkInstance } = await import('@azure/monitor-opentelemetry');
    const entra = entraIngestion(env);
    const credential = entra ? new (await import('@azure/identity')).ManagedIdentityCredential(entra.clientId ? { clientId: entra.clientId } : {}) : undefined;
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString: env.APPLICATIONINSIGHTS_CONNECTION_STRING, ...(credential ? { credential } : {}) },
      // Our own spans and the Azure SDKs' are what we need; http auto-instrumentation cannot patch ES modules
      // without a loader hook, and the redis instrumentation is for node-redis, not ioredis.
      instrumentationOptions: { azureSdk: { enabled: true }, http: { enabled: false }, redis: { enabled: false }, redis4: { enabled: false }, mongoDb: { enabled: false }, mySql: { enabled: false }, postgreSql: { enabled: false }, bunyan: { enabled: false }, winston: { enabled: false } },
      spanProcessors,
      logRecordProcessors,
      metricReaders,
      enableLiveMetrics: true,
      // Sampled by trace id, so a call (one trace) is kept or dropped whole; the distro's default rate
      // limit decides span by span. OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG take precedence
      // (e.g. microsoft.fixed_percentage with 0.25 keeps a quarter of the calls).
      samplingRatio: 1,
      tracesPerSecond: 0,
    });
    const sdk = _getSdkInstance() as unknown as { forceFlush?: () => Promise<void> } | undefined;
    stop = async () => {
      await shutdownAzureMonitor();
    };
    flush = async () => {
      await forceFlushGlobals();
      await sdk?.forceFlush?.();
    };
  } else {
    const [{ NodeSDK }, azureSdk] = await Promise.all([import('@opentelemetry/sdk-node'), azureSdkInstrumentation()]);
    const sdk = new NodeSDK({
      serviceName: env.OTEL_SERVICE_NAME?.trim() || 'rtvoice',
      spanProcessors,
      logRecordProcessors,
      metricReaders,
      instrumentations: azureSdk ? [azureSdk] : [],
    });
    sdk.start();
    stop = () => sdk.shutdown();
    flush = forceFlushGlobals;
  }

  const stopLatencyBridge = bridgeProcessLatency();
  const stopLogs = await bridgeLogs();
  activateMetrics();
  return {
    plan,
    flush,
    async shutdown() {
      stopLatencyBridge();
      stopLogs();
      await flush().catch(() => undefined);
      await stop();
    },
  };
}

async function azureSdkInstrumentation(): Promise<Instrumentation | undefined> {
  const { createAzureSdkInstrumentation } = await import('@azure/opentelemetry-instrumentation-azure-sdk');
  return createAzureSdkInstrumentation() as unknown as Instrumentation;
}

/** The providers' forceFlush through the API's globals (both pipelines register them there). */
async function forceFlushGlobals(): Promise<void> {
  const [{ trace, metrics }, { logs }] = await Promise.all([import('@opentelemetry/api'), import('@opentelemetry/api-logs')]);
  const flushable = (p: unknown) => (p as { forceFlush?: () => Promise<void> }).forceFlush?.();
  const tracerProvider = trace.getTracerProvider() as unknown as { getDelegate?: () => unknown };
  await Promise.all([flushable(tracerProvider.getDelegate?.() ?? tracerProvider), flushable(metrics.getMeterProvider()), flushable(logs.getLoggerProvider())]);
}

interface OtlpPipeline {
  readonly spanProcessors: SpanProcessor[];
  readonly metricReaders: MetricReader[];
  readonly logRecordProcessors: LogRecordProcessor[];
}

/**
 * OTLP/HTTP exporters for each signal not turned off by `OTEL_<SIGNAL>_EXPORTER=none`. `grpc` is not
 * offered (it would pull in a gRPC stack): it falls back to `http/protobuf`, with a warning.
 */
async function otlpPipeline(env: Env): Promise<OtlpPipeline> {
  const json = (signal: 'TRACES' | 'METRICS' | 'LOGS') => {
    const protocol = otlpProtocol(signal, env);
    if (protocol === 'grpc') process.stderr.write(`telemetry: OTLP gRPC is not supported; ${signal.toLowerCase()} use http/protobuf\n`);
    return protocol === 'http/json';
  };
  const exporterOptions = (signal: 'TRACES' | 'METRICS' | 'LOGS') => {
    const url = otlpUrl(signal, env);
    return url ? { url } : {};
  };
  const out: OtlpPipeline = { spanProcessors: [], metricReaders: [], logRecordProcessors: [] };
  if (signalEnabled('TRACES', env)) {
    const [{ BatchSpanProcessor }, { OTLPTraceExporter }] = await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      json('TRACES') ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
    ]);
    out.spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter(exporterOptions('TRACES'))));
  }
  if (signalEnabled('METRICS', env)) {
    const [{ PeriodicExportingMetricReader }, { OTLPMetricExporter }] = await Promise.all([
      import('@opentelemetry/sdk-metrics'),
      json('METRICS') ? import('@opentelemetry/exporter-metrics-otlp-http') : import('@opentelemetry/exporter-metrics-otlp-proto'),
    ]);
    const intervalMs = metricExportIntervalMs(env);
    out.metricReaders.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(exporterOptions('METRICS')), exportIntervalMillis: intervalMs, exportTimeoutMillis: Math.min(30_000, intervalMs) }));
  }
  if (signalEnabled('LOGS', env)) {
    const [{ BatchLogRecordProcessor }, { OTLPLogExporter }] = await Promise.all([
      import('@opentelemetry/sdk-logs'),
      json('LOGS') ? import('@opentelemetry/exporter-logs-otlp-http') : import('@opentelemetry/exporter-logs-otlp-proto'),
    ]);
    out.logRecordProcessors.push(new BatchLogRecordProcessor(new OTLPLogExporter(exporterOptions('LOGS'))));
  }
  return out;
}

/** Our logger's records as OpenTelemetry log records: message as body, fields as attributes. */
async function bridgeLogs(): Promise<() => void> {
  const { logs, SeverityNumber } = await import('@opentelemetry/api-logs');
  const logger = logs.getLogger('rtvoice', APP_VERSION);
  const severity: Record<LogLevel, number> = { debug: SeverityNumber.DEBUG, info: SeverityNumber.INFO, warn: SeverityNumber.WARN, error: SeverityNumber.ERROR };
  setTelemetryLogSink((level, message, fields) => {
    logger.emit({ severityNumber: severity[level], severityText: level.toUpperCase(), body: message, attributes: flattenFields(fields) });
  });
  return () => setTelemetryLogSink(undefined);
}

type Primitive = string | number | boolean;

/** `{ error: { name, message } }` → `error.name`, `error.message`; arrays of primitives kept; the rest as JSON. */
export function flattenFields(fields: LogFields | undefined, prefix = '', out: Record<string, Primitive | Primitive[]> = {}): Record<string, Primitive | Primitive[]> {
  if (!fields) return out;
  for (const [name, value] of Object.entries(fields)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (value === undefined || value === null) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) out[key] = value as Primitive[];
    else if (typeof value === 'object' && prefix.split('.').length < 3) flattenFields(value as LogFields, key, out);
    else out[key] = JSON.stringify(value);
  }
  return out;
}
