/**
 * `npm run demo -- --telemetry`: the demo's calls exported over OTLP/HTTP to a receiver started here,
 * then each call's trace tree and a summary of the metrics, as received. With
 * `OTEL_EXPORTER_OTLP_ENDPOINT` already set, the demo exports to that collector instead and prints
 * nothing more.
 */

import { shutdownTelemetry } from '../src/lib/telemetry/otel.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp/receiver.js';
import { printMetricSummary, printTraceTrees } from './otlp/report.js';

export interface DemoTelemetry {
  /** Flushes and stops the exporters; with our own receiver, prints what it got and closes it. */
  report(print: (line: string) => void): Promise<void>;
}

export async function startDemoTelemetry(print: (line: string) => void): Promise<DemoTelemetry> {
  const external = process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  let receiver: OtlpReceiver | undefined;
  if (external) {
    print(`telemetry: exporting OTLP to ${external}`);
  } else {
    receiver = await startOtlpReceiver();
    // Read by the exporters when telemetry starts with the offline stack.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.endpoint;
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL ??= 'http/json';
    process.env.OTEL_METRIC_EXPORT_INTERVAL ??= '2000';
    process.env.OTEL_SERVICE_NAME ??= 'rtvoice-demo';
    print(`telemetry: OTLP/HTTP receiver at ${receiver.endpoint}`);
  }
  return {
    async report(out) {
      await shutdownTelemetry();
      if (!receiver) return;
      out('');
      out('Traces (one per call)');
      printTraceTrees(receiver.spans, out);
      out('');
      out('Metrics');
      printMetricSummary(receiver.points, out);
      out(`  (${receiver.spans.length} spans, ${receiver.points.length} metric points, ${receiver.logs.length} log records received)`);
      await receiver.close();
    },
  };
}
