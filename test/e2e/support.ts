import { expect, inject } from 'vitest';
import type { RestRecord } from '../../emulators/acs/index.js';
import type { InstanceStatus } from '../../emulators/devhost/index.js';
import { startOfflineStack, type OfflineStack, type OfflineStackOptions } from '../../emulators/offline-stack.js';
import type { Archive } from '../../src/lib/archive/index.js';
import type { LifecycleSummary } from '../../src/lib/lifecycle/index.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { onCluster } from '../support/topology.js';
import { scanAll } from '../state/support/store.js';

/**
 * The whole product offline for end-to-end tests: the run's private Redis (from the global setup;
 * the stack gives every file its own key prefix), the embedded Cosmos server, the ACS emulator and
 * the dev host serving the app's real function registrations. Every part talks over real sockets.
 */
export async function startE2eStack(options: OfflineStackOptions = {}): Promise<OfflineStack> {
  return startOfflineStack({
    ...options,
    redis: { host: inject('redisHost'), port: inject('redisPort'), cluster: onCluster() },
    // Plays last 2 ms per character instead of 20: the conversation is the same, the test is faster.
    acs: { speechMsPerChar: 2, ...options.acs },
    // Rejections and retries are logged at warn on purpose; the tests assert them instead.
    env: { LOG_LEVEL: 'error', ...options.env },
    logger: options.logger ?? consoleLogger('error', { component: 'e2e' }),
  });
}

/** Settings for the chat agent against the Azure OpenAI stand-in at `endpoint` (Azure OpenAI cannot run offline). */
export function standInModelSettings(endpoint: string): Record<string, string> {
  return { AGENT_MODE: 'azure-openai', AZURE_OPENAI_ENDPOINT: endpoint, AZURE_OPENAI_API_KEY: 'local-test-key', AZURE_OPENAI_CHAT_DEPLOYMENT: 'gpt-4o-mini' };
}

/** Waits for the call's lifecycle orchestration (instance id = callConnectionId) and returns its output. */
export async function lifecycleOf(stack: OfflineStack, callConnectionId: string | undefined): Promise<{ status: InstanceStatus; output: LifecycleSummary }> {
  expect(callConnectionId, 'the call was answered').toBeTruthy();
  const status = await stack.host.durable.waitForCompletion(callConnectionId!, { timeoutMs: 15_000 });
  expect(status.runtimeStatus).toBe('Completed');
  return { status, output: status.output as LifecycleSummary };
}

/** Every Redis key of one call or conversation under the stack's key prefix (SCAN, never KEYS; every master's on a cluster). */
export async function redisKeysOf(stack: OfflineStack, callId: string): Promise<string[]> {
  const client = (await stack.runtime.redis()).client;
  return (await scanAll(client, `${stack.config.keyPrefix}:*{${callId}}*`)).sort();
}

export async function archiveOf(stack: OfflineStack): Promise<Archive> {
  return stack.runtime.archive();
}

export function count<T>(items: readonly T[], item: T): number {
  return items.filter((x) => x === item).length;
}

/** The operationContext the app gave a play or recognize request. */
export function operationContextOf(request: RestRecord): string | undefined {
  const body = request.body as { operationContext?: string } | undefined;
  return body?.operationContext;
}

/** A caller's number; tests in one file use different ones, since profiles live for the whole file. */
export function phoneNumber(suffix: number): string {
  return `+1555010${String(suffix).padStart(4, '0')}`;
}

export const APP_NUMBER = '+15550100000';
