import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import type { FunctionInput, FunctionOutput, FunctionTrigger, InvocationContext as InvocationContextType, LogLevel } from '@azure/functions';
import { InvocationContext } from './functions-runtime.js';
import type { FunctionRegistration } from '../functions-host/registry.js';
import { triggerOf } from '../functions-host/registry.js';
import type { Logger } from '../../src/lib/telemetry/logger.js';

/**
 * Builds the InvocationContext the Functions worker would: the function's name, a fresh invocation id,
 * its bindings in `options` (so `context.extraInputs.get(input)` and durable-functions' `getClient`
 * find them), extra input values, and logs routed to the host's logger.
 */
export function invocationContextFor(
  registration: FunctionRegistration,
  logger: Logger,
  extraInputValues: ReadonlyMap<string, unknown> = new Map(),
  triggerMetadata?: Record<string, unknown>,
): InvocationContextType {
  const functionName = registration.metadata.name;
  const invocationId = randomUUID();
  const bindings = Object.entries(registration.metadata.bindings).map(([name, binding]) => ({ ...binding, name }));
  const trigger = triggerOf(registration);
  const context = new InvocationContext({
    functionName,
    invocationId,
    logHandler: (level: LogLevel, ...args: unknown[]) => log(logger, level, format(...args), { functionName, invocationId }),
    ...(triggerMetadata ? { triggerMetadata } : {}),
    options: {
      trigger: { ...trigger, name: bindings.find((b) => b.type === trigger.type)?.name ?? 'trigger' } as FunctionTrigger,
      extraInputs: bindings.filter((b) => b.direction === 'in' && b.type !== trigger.type) as unknown as FunctionInput[],
      extraOutputs: bindings.filter((b) => b.direction === 'out' && b.name !== '$return') as unknown as FunctionOutput[],
    },
  });
  for (const input of context.options.extraInputs) {
    if (extraInputValues.has(input.type)) context.extraInputs.set(input, extraInputValues.get(input.type));
  }
  return context;
}

function log(logger: Logger, level: LogLevel, message: string, fields: Record<string, unknown>): void {
  switch (level) {
    case 'critical':
    case 'error':
      return logger.error(message, fields);
    case 'warning':
      return logger.warn(message, fields);
    case 'information':
      return logger.info(message, fields);
    default:
      return logger.debug(message, fields);
  }
}

/** The Functions host matches function names case-insensitively. */
export function functionKey(name: string): string {
  return name.toLowerCase();
}
