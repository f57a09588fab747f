import * as df from 'durable-functions';
import {
  LIFECYCLE_ACTIVITIES,
  LIFECYCLE_ORCHESTRATION,
  callLifecycleOrchestrator,
  getLifecycleDeps,
  setLifecycleDeps,
} from '../lib/lifecycle/index.js';

/**
 * The call lifecycle (Durable Functions): one orchestration per call, instance id = call connection id,
 * and its activities. The logic lives in `src/lib/lifecycle`; the activities get their dependencies
 * from `setLifecycleDeps()`, which the composition root calls at start-up.
 */
export { callLifecycleOrchestrator as callLifecycle };

// The activities run against the process runtime unless a host or test provides other dependencies;
// the runtime and its SDKs are loaded on the first activity, not when the host imports this module.
setLifecycleDeps(async () => {
  const [{ lifecycleDeps }, { runtime }] = await Promise.all([import('../lib/calls/lifecycle-deps.js'), import('../lib/runtime.js')]);
  return lifecycleDeps(runtime());
});

df.app.orchestration(LIFECYCLE_ORCHESTRATION, callLifecycleOrchestrator);

for (const [name, activity] of Object.entries(LIFECYCLE_ACTIVITIES)) {
  df.app.activity(name, { handler: async (input: unknown) => activity(await getLifecycleDeps(), input) });
}
