import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { registerTelemetryHooks } from '../lib/telemetry/host-hooks.js';

/**
 * GET /api/health — version, dependency reachability and the monitoring baselines; 503 when a
 * dependency is unreachable or the session store is degraded or down, and 503 naming the settings
 * when the configuration is invalid.
 */
export async function health(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const [{ checkHealth }, { runtime }, { processLatency }] = await Promise.all([
    import('../lib/health/index.js'),
    import('../lib/runtime.js'),
    import('../lib/telemetry/histograms.js'),
  ]);
  const { unlessMisconfigured } = await import('../lib/config/startup.js');
  return unlessMisconfigured(
    async () => runtime(),
    async (rt) => {
      // The process's session store (created on first use; a store that cannot be built is left out).
      const store = await rt.store().catch(() => undefined);
      const report = await checkHealth(() => rt.redis(), undefined, { latency: processLatency, ...(store ? { store } : {}) });
      return {
        status: report.status === 'ok' ? 200 : 503,
        jsonBody: report,
        headers: { 'cache-control': 'no-store' },
      };
    },
  );
}

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: health,
});

// Every setting is validated as the app starts, and an invalid configuration is logged once there.
app.hook.appStart(async () => {
  const [{ validateConfigAtStartup }, { runtime }] = await Promise.all([import('../lib/config/startup.js'), import('../lib/runtime.js')]);
  await validateConfigAtStartup(() => runtime().config);
});

// OpenTelemetry starts with the app when configured (APPLICATIONINSIGHTS_CONNECTION_STRING, OTEL_EXPORTER_OTLP_*).
registerTelemetryHooks(app);
