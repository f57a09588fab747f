import * as df from 'durable-functions';
import { currentApp } from '../lib/app/current.js';
import { LIFECYCLE_ACTIVITIES, LIFECYCLE_ORCHESTRATION, callLifecycleOrchestrator } from '../lib/lifecycle/index.js';

/**
 * The call lifecycle (Durable Functions): one orchestration per call, instance id = call connection id,
 * and its activities. The logic lives in `src/lib/lifecycle`. The orchestrator is deterministic and
 * needs nothing of the app (its input carries the call's settings); the activities act on the app's
 * lifecycle dependencies, loaded on the first activity, not when the host imports this module.
 */
export { callLifecycleOrchestrator as callLifecycle };

df.app.orchestration(LIFECYCLE_ORCHESTRATION, callLifecycleOrchestrator);

for (const name of Object.keys(LIFECYCLE_ACTIVITIES) as (keyof typeof LIFECYCLE_ACTIVITIES)[]) {
  df.app.activity(name, {
    handler: async (input: unknown) => {
      const { onLifecycleActivity } = await import('../lib/app/functions.js');
      return onLifecycleActivity(currentApp, name, input);
    },
  });
}
