import type { DurableClient } from 'durable-functions';
import { CALL_DISCONNECTED_EVENT, LIFECYCLE_ORCHESTRATION, lifecycleInstanceId } from '../lifecycle/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { LifecyclePort, LifecycleStart } from './ports.js';

/** The call lifecycle over a Durable Functions client (the invocation's `durableClient` input). */
export function durableLifecycle(client: DurableClient, logger: Logger): LifecyclePort {
  return {
    async start(input: LifecycleStart) {
      const instanceId = lifecycleInstanceId(input.callConnectionId);
      try {
        await client.startNew(LIFECYCLE_ORCHESTRATION, { instanceId, input });
      } catch (err) {
        // Starting twice (a retried answer) conflicts with the running instance; that instance is the one we want.
        const status = await client.getStatus(instanceId).catch(() => undefined);
        if (!status) throw err;
        logger.info('call lifecycle already running', { instanceId, runtimeStatus: status.runtimeStatus });
      }
    },
    async callDisconnected(callConnectionId, payload) {
      await client.raiseEvent(lifecycleInstanceId(callConnectionId), CALL_DISCONNECTED_EVENT, payload);
    },
  };
}
