import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { currentApp } from '../lib/app/current.js';
import { registerTelemetryHooks } from '../lib/telemetry/host-hooks.js';

/**
 * GET /api/health — version, dependency reachability and the monitoring baselines; 503 when a
 * dependency is unreachable or the session store is degraded or down, and 503 naming the settings
 * when the configuration is invalid.
 */
export async function health(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  // Loaded on first use, not at import: the host imports every function module at cold start.
  const { onHealth } = await import('../lib/app/functions.js');
  return onHealth(currentApp);
}

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: health,
});

// Every setting is validated as the app starts, and an invalid configuration is logged once there.
app.hook.appStart(async () => {
  const { onAppStart } = await import('../lib/app/functions.js');
  await onAppStart(currentApp);
});

// OpenTelemetry starts with the app when configured (APPLICATIONINSIGHTS_CONNECTION_STRING, OTEL_EXPORTER_OTLP_*).
registerTelemetryHooks(app);
