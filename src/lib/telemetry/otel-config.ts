/**
 * Which telemetry pipeline the environment asks for, decided from environment variables alone so a
 * function module can ask at import time without loading any SDK (cold start).
 *
 * - `APPLICATIONINSIGHTS_CONNECTION_STRING` → the Azure Monitor distro (`useAzureMonitor`), with
 *   Entra ID ingestion when `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` says `Authorization=AAD`
 *   (the setting the Functions host reads for its own telemetry).
 * - `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT`)
 *   → OTLP/HTTP to that collector; beside Azure Monitor when both are set.
 * - `OTEL_SDK_DISABLED=true` → nothing, whatever else is set.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface TelemetryPlan {
  readonly azureMonitor: boolean;
  readonly otlp: boolean;
}

const OTLP_ENDPOINTS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT'];

export function telemetryPlan(env: Env = process.env): TelemetryPlan {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? '')) return { azureMonitor: false, otlp: false };
  return {
    azureMonitor: Boolean(env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim()),
    otlp: OTLP_ENDPOINTS.some((name) => Boolean(env[name]?.trim())),
  };
}

export function telemetryConfigured(env: Env = process.env): boolean {
  const plan = telemetryPlan(env);
  return plan.azureMonitor || plan.otlp;
}

/**
 * `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` (`Authorization=AAD;ClientId=<id>`): undefined without
 * `Authorization=AAD`; `clientId` undefined for the system-assigned identity.
 */
export function entraIngestion(env: Env = process.env): { clientId: string | undefined } | undefined {
  const text = env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING?.trim();
  if (!text) return undefined;
  const parts = new Map(
    text
      .split(';')
      .map((p) => p.split('=').map((s) => s.trim()))
      .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== '')
      .map(([k, v]) => [k.toLowerCase(), v]),
  );
  if (parts.get('authorization')?.toUpperCase() !== 'AAD') return undefined;
  return { clientId: parts.get('clientid') || undefined };
}

/** `OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else the spec's `http/protobuf`. */
export function otlpProtocol(signal: 'TRACES' | 'METRICS' | 'LOGS', env: Env = process.env): 'http/json' | 'http/protobuf' | 'grpc' {
  const value = (env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim().toLowerCase();
  if (value === 'http/json' || value === 'grpc') return value;
  return 'http/protobuf';
}

/** `OTEL_{TRACES,METRICS,LOGS}_EXPORTER`: `none` turns a signal off; anything else means OTLP. */
export function signalEnabled(signal: 'TRACES' | 'METRICS' | 'LOGS', env: Env = process.env): boolean {
  const value = env[`OTEL_${signal}_EXPORTER`]?.trim().toLowerCase();
  return value !== 'none';
}

/** `OTEL_METRIC_EXPORT_INTERVAL` (ms). @default 60000 (the spec's) */
export function metricExportIntervalMs(env: Env = process.env): number {
  const value = Number(env.OTEL_METRIC_EXPORT_INTERVAL);
  return Number.isFinite(value) && value >= 100 ? value : 60_000;
}

/**
 * The signal's URL as the OTLP exporter spec builds it: `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` as is,
 * else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/<signal>`. (Headers, timeout and compression the
 * exporters read from the process environment themselves.)
 */
export function otlpUrl(signal: 'TRACES' | 'METRICS' | 'LOGS', env: Env = process.env): string | undefined {
  const own = env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]?.trim();
  if (own) return own;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/${signal.toLowerCase()}` : undefined;
}
