import type { DurableClient } from 'durable-functions';
import { CALL_DISCONNECTED_EVENT, LIFECYCLE_ORCHESTRATION, lifecycleInstanceId } from '../lifecycle/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { CallEnd, LifecyclePort, LifecycleStart } from './ports.js';

/**
 * The call lifecycle over a Durable Functions client (the invocation's `durableClient` input).
 *
 * durable-functions 3.5 (`lib/src/durableClient/DurableClient.js`): `raiseEvent` resolves on 202 and on
 * 410 (the instance has finished) and rejects with "No instance with ID '…' found." on 404; `startNew`
 * rejects on anything above 202. The extension replaces a Completed, Failed or Terminated instance
 * that `startNew` names again (Learn, "Singleton orchestrators"), so a lifecycle is never started
 * over one that exists: that would archive a finished call a second time.
 */
export function durableLifecycle(client: DurableClient, logger: Logger): LifecyclePort {
  async function exists(instanceId: string): Promise<string | undefined> {
    try {
      return (await client.getStatus(instanceId)).runtimeStatus ?? 'Unknown';
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Starts the instance unless one exists; true when this call started it. */
  async function startOnce(instanceId: string, input: unknown): Promise<boolean> {
    const status = await exists(instanceId);
    if (status) {
      logger.info('call lifecycle already exists', { instanceId, runtimeStatus: status });
      return false;
    }
    try {
      await client.startNew(LIFECYCLE_ORCHESTRATION, { instanceId, input });
      return true;
    } catch (err) {
      // Started concurrently by another delivery (the answer, a redelivery, the hang-up): that one is ours.
      const now = await exists(instanceId).catch(() => undefined);
      if (!now) throw err;
      logger.info('call lifecycle started concurrently', { instanceId, runtimeStatus: now });
      return false;
    }
  }

  return {
    async start(input: LifecycleStart) {
      await startOnce(lifecycleInstanceId(input.callConnectionId), input);
    },
    async callDisconnected(start: LifecycleStart, end: CallEnd) {
      const instanceId = lifecycleInstanceId(start.callConnectionId);
      try {
        await client.raiseEvent(instanceId, CALL_DISCONNECTED_EVENT, end);
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      // The lifecycle was never started (a hang-up before the answer's start landed) or was lost:
      // start it with the end already known, so the call is archived all the same.
      logger.warn('call lifecycle missing at hang-up; starting it with the end known', { instanceId, callId: start.callId, reason: end.reason });
      if (await startOnce(instanceId, { ...start, ended: end })) return;
      // Someone else started it in between: it is waiting for this event.
      await client.raiseEvent(instanceId, CALL_DISCONNECTED_EVENT, end);
    },
  };
}

/** durable-functions reports an unknown instance as an Error naming the 404, not as a status. */
function isNotFound(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /No instance with ID|HTTP 404/.test(message);
}
