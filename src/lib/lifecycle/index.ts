export * from './types.js';
export * from './errors.js';
export { getLifecycleDeps, setLifecycleDeps, type LifecycleDepsProvider } from './deps.js';
export { LIFECYCLE_ACTIVITIES } from './activities.js';
export {
  CALL_DISCONNECTED_EVENT,
  LIFECYCLE_ORCHESTRATION,
  LifecycleActivity,
  MAX_DURATION_REASON,
  callLifecycleOrchestrator,
  lifecycleInstanceId,
  lifecycleRetryOptions,
  parseLifecycleInput,
} from './orchestrator.js';
