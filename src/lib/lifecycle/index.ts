export * from './types.js';
export * from './errors.js';
export { LIFECYCLE_ACTIVITIES, withErrorPolicy } from './activities.js';
export { isActivityFailure, type ActivityFailure } from './activity-failure.js';
export {
  CALL_DISCONNECTED_EVENT,
  LIFECYCLE_ORCHESTRATION,
  LifecycleActivity,
  MAX_DURATION_REASON,
  callLifecycleOrchestrator,
  lifecycleInstanceId,
  BEST_EFFORT_RETRY,
  DEFAULT_ARCHIVE_HORIZON_SECONDS,
  requiredRetryPolicy,
  type StepRetryPolicy,
  parseLifecycleInput,
} from './orchestrator.js';
