import { app } from '@azure/functions';
import { telemetryConfigured } from '../lib/telemetry/otel-config.js';

/**
 * Starts OpenTelemetry (Azure Monitor and/or OTLP, see `src/lib/telemetry/otel.ts`) when the app
 * settings configure it; otherwise no SDK is loaded. With telemetry on, the worker tells the host it
 * sends its own logs (`WorkerOpenTelemetryEnabled`), so the host does not forward them a second time
 * with their fields flattened into the message, and each invocation runs in the host's trace context.
 */
if (telemetryConfigured()) {
  app.setup({ capabilities: { WorkerOpenTelemetryEnabled: true } });

  app.hook.appStart(async () => {
    const { startTelemetry } = await import('../lib/telemetry/otel.js');
    await startTelemetry().catch((error: unknown) => process.stderr.write(`telemetry did not start: ${(error as Error).name}\n`));
  });

  app.hook.preInvocation(async (context) => {
    const traceParent = context.invocationContext.traceContext?.traceParent;
    if (!traceParent) return;
    const { bindToTraceParent } = await import('../lib/telemetry/host-context.js');
    context.functionHandler = bindToTraceParent(context.functionHandler, traceParent, context.invocationContext.traceContext?.traceState ?? undefined);
  });

  app.hook.appTerminate(async () => {
    const { shutdownTelemetry } = await import('../lib/telemetry/otel.js');
    await shutdownTelemetry();
  });
}
