import type { app as functionsApp } from '@azure/functions';
import { telemetryConfigured } from './otel-config.js';

/**
 * Starts OpenTelemetry (Azure Monitor and/or OTLP, see `otel.ts`) with the app when the app settings
 * configure it; otherwise nothing is registered and no SDK is loaded. With telemetry on, the worker
 * tells the host it sends its own logs (`WorkerOpenTelemetryEnabled`), so the host does not forward
 * them a second time with their fields flattened into the message, and each invocation runs in the
 * host's trace context (call spans link to it).
 *
 * Called at import time of a function module: `app.setup` must run before the worker reports its
 * capabilities.
 */
export function registerTelemetryHooks(app: typeof functionsApp, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  if (!telemetryConfigured(env)) return false;
  app.setup({ capabilities: { WorkerOpenTelemetryEnabled: true } });

  // Not awaited: loading and starting the SDK takes longer than importing the whole app (see the
  // cold-start benchmark's `withTelemetry`), and a call must not wait for it; spans of invocations
  // that run before it is up are not recorded.
  app.hook.appStart(() => {
    void import('./otel.js')
      .then(({ startTelemetry }) => startTelemetry())
      .catch((error: unknown) => process.stderr.write(`telemetry did not start: ${(error as Error).name}\n`));
  });

  app.hook.preInvocation(async (context) => {
    const traceParent = context.invocationContext.traceContext?.traceParent;
    if (!traceParent) return;
    const { bindToTraceParent } = await import('./host-context.js');
    context.functionHandler = bindToTraceParent(context.functionHandler, traceParent, context.invocationContext.traceContext?.traceState ?? undefined);
  });

  app.hook.appTerminate(async () => {
    const { shutdownTelemetry } = await import('./otel.js');
    await shutdownTelemetry();
  });
  return true;
}
