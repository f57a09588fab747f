import * as df from 'durable-functions';
import {
  LIFECYCLE_ACTIVITIES,
  LIFECYCLE_ORCHESTRATION,
  callLifecycleOrchestrator,
  getLifecycleDeps,
} from '../lib/lifecycle/index.js';

/**
 * The call lifecycle (Durable Functions): one orchestration per call, instance id = call connection id,
 * and its activities. The logic lives in `src/lib/lifecycle`; the activities get their dependencies
 * from `setLifecycleDeps()`, which the composition root calls at start-up.
 */
export { callLifecycleOrchestrator as callLifecycle };

df.app.orchestration(LIFECYCLE_ORCHESTRATION, callLifecycleOrchestrator);

for (const [name, activity] of Object.entries(LIFECYCLE_ACTIVITIES)) {
  df.app.activity(name, { handler: async (input: unknown) => activity(await getLifecycleDeps(), input) });
}
