import { randomUUID } from 'node:crypto';
import type { FunctionRegistration } from '../../functions-host/registry.js';
import type { Logger } from '../../../src/lib/telemetry/logger.js';
import { DurableRequestError, UnsupportedActionError } from '../errors.js';
import { functionKey, invocationContextFor } from '../invocation.js';
import { ActionType, decodeActionInput, flattenActions, type OrchestratorState, type RawAction } from './actions.js';
import { scaledClock, type EngineClock } from './clock.js';
import { HistoryEventType, historyEvents, type FailureDetails, type HistoryEvent } from './history.js';
import { newInstance, statusOf, TERMINAL_STATUSES, type Instance, type InstanceStatus } from './instance.js';
import { nextRetryDelayMs } from './retry.js';
import { copy, failureOf, parseOrchestrationFailure } from './wire.js';
import { awaitTerminal, type WaitOptions } from './completion.js';

/** Replay schema V4 (the library's latest): actions come back as one list, compound actions nested. */
const UPPER_SCHEMA_VERSION = 3;
const MAX_SET_TIMEOUT_MS = 2 ** 31 - 1;

export interface DurableEngineOptions {
  readonly logger: Logger;
  /** Durable time runs 1/timeScale times faster than the wall clock (0.001: an hour in 3.6 s). @default 1 */
  readonly timeScale?: number;
}

export type { WaitOptions } from './completion.js';

type Message =
  | { kind: 'activityResult'; generation: number; taskId: number; ok: true; value: unknown }
  | { kind: 'activityResult'; generation: number; taskId: number; ok: false; failure: FailureDetails }
  | { kind: 'timerFired'; generation: number; timerId: number; fireAt: Date }
  | { kind: 'eventRaised'; name: string; payload: unknown }
  | { kind: 'terminate'; reason: string };

/**
 * Runs orchestrations the way the Durable Functions extension does, in memory: it keeps each instance's
 * history, calls the registered orchestration handler (the library's own replay entry point) with it,
 * performs the actions the replay returns (activities, timers, event waits, retries, continue-as-new),
 * appends their outcomes and replays again until the orchestration is done. One instance is handled by
 * one replay at a time; activities of an instance run concurrently, their results queue up.
 */
export class DurableEngine {
  private readonly orchestrators = new Map<string, FunctionRegistration>();
  private readonly activities = new Map<string, FunctionRegistration>();
  private readonly instances = new Map<string, Instance>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly clock: EngineClock;
  private readonly logger: Logger;
  private closed = false;

  constructor(options: DurableEngineOptions) {
    this.logger = options.logger;
    this.clock = scaledClock(options.timeScale ?? 1);
  }

  registerOrchestrator(registration: FunctionRegistration): void {
    this.orchestrators.set(functionKey(registration.metadata.name), registration);
  }

  registerActivity(registration: FunctionRegistration): void {
    this.activities.set(functionKey(registration.metadata.name), registration);
  }

  /** Starts an orchestration. A running instance with the same id is a conflict, as with the real extension. */
  start(name: string, options: { instanceId?: string; input?: unknown } = {}): InstanceStatus {
    this.assertOpen();
    const registration = this.orchestrators.get(functionKey(name));
    if (!registration) throw new DurableRequestError(`The function '${name}' doesn't exist or is not an orchestrator function.`, 400);
    const instanceId = options.instanceId ?? randomUUID().replace(/-/g, '');
    const existing = this.instances.get(instanceId);
    if (existing && !TERMINAL_STATUSES.has(existing.runtimeStatus)) {
      throw new DurableRequestError(`An orchestration instance with ID '${instanceId}' is already ${existing.runtimeStatus.toLowerCase()}.`, 409);
    }
    if (existing) this.stopTimers(existing);
    const instance = newInstance(instanceId, registration.metadata.name, copy(options.input), this.clock.now(), (existing?.generation ?? -1) + 1);
    this.instances.set(instanceId, instance);
    this.enqueue(instance, () => this.begin(instance));
    return statusOf(instance);
  }

  /** Delivers an external event; the library buffers it until the orchestrator waits for it. */
  raiseEvent(instanceId: string, name: string, payload: unknown): void {
    const instance = this.running(instanceId);
    this.enqueue(instance, () => this.handle(instance, { kind: 'eventRaised', name, payload: copy(payload) }));
  }

  terminate(instanceId: string, reason: string): void {
    const instance = this.running(instanceId);
    this.enqueue(instance, () => this.handle(instance, { kind: 'terminate', reason }));
  }

  /** Deletes an instance and its history; returns how many instances were deleted. */
  purge(instanceId: string): number {
    const instance = this.instances.get(instanceId);
    if (!instance) return 0;
    this.stopTimers(instance);
    instance.generation += 1;
    this.instances.delete(instanceId);
    return 1;
  }

  status(instanceId: string, options: { showHistory?: boolean } = {}): InstanceStatus | undefined {
    const instance = this.instances.get(instanceId);
    return instance ? statusOf(instance, options.showHistory) : undefined;
  }

  list(): InstanceStatus[] {
    return [...this.instances.values()].map((instance) => statusOf(instance));
  }

  /** The instance's history as the orchestrator sees it (durable-functions history event objects). */
  history(instanceId: string): readonly HistoryEvent[] {
    return [...(this.instances.get(instanceId)?.history ?? [])];
  }

  /** Real timers still armed for the instance (a cancelled or fired durable timer has none). */
  pendingTimerCount(instanceId: string): number {
    return this.instances.get(instanceId)?.timers.size ?? 0;
  }

  /** Resolves with the final status once the instance is Completed, Failed or Terminated. */
  waitForCompletion(instanceId: string, options: WaitOptions = {}): Promise<InstanceStatus> {
    const instance = this.instances.get(instanceId);
    if (!instance) return Promise.reject(new DurableRequestError(`No instance with ID '${instanceId}' found.`, 404));
    return awaitTerminal(instance, options);
  }

  /** Stops every timer, drops late results, and waits (briefly) for activities still running. */
  async close(graceMs = 5_000): Promise<void> {
    this.closed = true;
    for (const instance of this.instances.values()) this.stopTimers(instance);
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled([...this.inFlight]), grace]);
    clearTimeout(timer);
  }

  // ---- message handling (always inside the instance's queue) ----

  private enqueue(instance: Instance, work: () => Promise<void>): void {
    const run = instance.queue.then(work).catch((error: unknown) => {
      this.logger.error('durable instance processing failed', { instanceId: instance.instanceId, error: error as Error });
    });
    instance.queue = run;
    this.track(run);
  }

  private async begin(instance: Instance): Promise<void> {
    if (this.closed) return;
    const now = this.clock.now();
    instance.runtimeStatus = 'Running';
    instance.history.push(historyEvents.orchestratorStarted(now), historyEvents.executionStarted(now, instance.name, instance.input));
    await this.replay(instance);
  }

  private async handle(instance: Instance, message: Message): Promise<void> {
    if (this.closed || TERMINAL_STATUSES.has(instance.runtimeStatus) || this.instances.get(instance.instanceId) !== instance) return;
    if ('generation' in message && message.generation !== instance.generation) return;
    const now = this.clock.now();
    if (message.kind === 'terminate') {
      this.stopTimers(instance);
      instance.history.push(historyEvents.marker(now, HistoryEventType.ExecutionTerminated));
      this.finish(instance, 'Terminated', message.reason);
      return;
    }
    instance.history.push(historyEvents.orchestratorStarted(now));
    if (message.kind === 'eventRaised') {
      instance.history.push(historyEvents.eventRaised(now, message.name, message.payload));
    } else if (message.kind === 'activityResult') {
      this.recordActivityResult(instance, message, now);
    } else {
      this.recordTimerFired(instance, message.timerId, message.fireAt, now);
    }
    await this.replay(instance);
  }

  private recordActivityResult(instance: Instance, message: Extract<Message, { kind: 'activityResult' }>, now: Date): void {
    if (message.ok) {
      instance.history.push(historyEvents.taskCompleted(now, message.taskId, message.value));
      return;
    }
    instance.history.push(historyEvents.taskFailed(now, message.taskId, message.failure));
    const retry = instance.retries.get(message.taskId);
    if (!retry) return;
    // The library answers a failed attempt by waiting on a retry timer (its next task id), and decides
    // after that timer whether another attempt is left; so a timer follows every failure, the last one
    // firing at once.
    retry.failedAttempts += 1;
    const delayMs = nextRetryDelayMs(retry.policy, retry.failedAttempts, now.getTime() - retry.firstAttemptAt.getTime());
    const timerId = instance.nextTaskId++;
    const fireAt = new Date(now.getTime() + (delayMs ?? 0));
    instance.history.push(historyEvents.timerCreated(now, timerId, fireAt));
    instance.retries.set(timerId, retry);
    if (delayMs === undefined) instance.finalRetryTimers.add(timerId);
    this.armTimer(instance, timerId, fireAt);
  }

  private recordTimerFired(instance: Instance, timerId: number, fireAt: Date, now: Date): void {
    instance.history.push(historyEvents.timerFired(now, timerId, fireAt));
    const retry = instance.retries.get(timerId);
    if (!retry || instance.finalRetryTimers.has(timerId)) return;
    const attemptId = instance.nextTaskId++;
    instance.history.push(historyEvents.taskScheduled(now, attemptId, retry.functionName, retry.input));
    instance.retries.set(attemptId, retry);
    this.runActivity(instance, attemptId, retry.functionName, retry.input);
  }

  // ---- replay ----

  private async replay(instance: Instance): Promise<void> {
    for (;;) {
      const outcome = await this.invokeOrchestrator(instance);
      const now = this.clock.now();
      for (const event of instance.history) event.IsPlayed = true;
      instance.lastUpdatedTime = now;
      if (outcome.customStatus !== undefined) instance.customStatus = copy(outcome.customStatus);
      if (outcome.failed) {
        this.stopTimers(instance);
        instance.history.push(historyEvents.marker(now, HistoryEventType.ExecutionFailed));
        this.finish(instance, 'Failed', `Orchestrator function '${instance.name}' failed: ${outcome.error}`);
        return;
      }
      const state = outcome.state;
      let actions: RawAction[];
      try {
        actions = flattenActions(state);
        this.perform(instance, actions, now);
      } catch (error) {
        this.stopTimers(instance);
        this.finish(instance, 'Failed', `Orchestrator function '${instance.name}' failed: ${(error as Error).message}`);
        return;
      }
      instance.history.push(historyEvents.orchestratorCompleted(now));
      if (!state.isDone) return;
      const continueAsNew = actions.find((a) => a.actionType === ActionType.ContinueAsNew);
      this.stopTimers(instance);
      if (!continueAsNew) {
        instance.history.push(historyEvents.marker(now, HistoryEventType.ExecutionCompleted));
        this.finish(instance, 'Completed', copy(state.output));
        return;
      }
      this.restartExecution(instance, decodeActionInput(continueAsNew.input), now);
    }
  }

  private async invokeOrchestrator(
    instance: Instance,
  ): Promise<{ failed: false; state: OrchestratorState; customStatus?: unknown } | { failed: true; error: string; customStatus?: unknown }> {
    const registration = this.orchestrators.get(functionKey(instance.name));
    if (!registration) return { failed: true, error: `orchestrator '${instance.name}' is no longer registered` };
    const trigger = {
      history: [...instance.history],
      input: copy(instance.input),
      instanceId: instance.instanceId,
      isReplaying: instance.history.some((e) => e.IsPlayed),
      parentInstanceId: '',
      upperSchemaVersion: UPPER_SCHEMA_VERSION,
      maximumShortTimerDuration: '6.00:00:00',
      longRunningTimerIntervalDuration: '3.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
    };
    try {
      const state = (await registration.handler(trigger, invocationContextFor(registration, this.logger))) as OrchestratorState;
      return { failed: false, state, customStatus: state.customStatus };
    } catch (error) {
      return { failed: true, ...parseOrchestrationFailure(error) };
    }
  }

  /** Performs the actions this replay added after those already performed; stops timers it cancelled. */
  private perform(instance: Instance, actions: RawAction[], now: Date): void {
    actions.forEach((action, index) => {
      if (index < instance.performedActions) {
        if (action.actionType === ActionType.CreateTimer && action.isCanceled) this.cancelTimer(instance, instance.timerOfAction.get(index));
        return;
      }
      switch (action.actionType) {
        case ActionType.CallActivity:
        case ActionType.CallActivityWithRetry: {
          const taskId = instance.nextTaskId++;
          const name = requireName(action);
          const input = decodeActionInput(action.input);
          instance.history.push(historyEvents.taskScheduled(now, taskId, name, input));
          if (action.actionType === ActionType.CallActivityWithRetry && action.retryOptions) {
            instance.retries.set(taskId, { functionName: name, input, policy: { ...action.retryOptions }, firstAttemptAt: now, failedAttempts: 0 });
          }
          this.runActivity(instance, taskId, name, input);
          break;
        }
        case ActionType.CreateTimer: {
          const timerId = instance.nextTaskId++;
          const fireAt = new Date(action.fireAt ?? now);
          instance.history.push(historyEvents.timerCreated(now, timerId, fireAt));
          instance.timerOfAction.set(index, timerId);
          if (!action.isCanceled) this.armTimer(instance, timerId, fireAt);
          break;
        }
        case ActionType.WaitForExternalEvent:
        case ActionType.ContinueAsNew:
          break; // events are buffered by the library; continue-as-new is handled once the replay is done
        default:
          throw new UnsupportedActionError(`action type ${action.actionType} is not supported by the dev host's durable engine`);
      }
    });
    instance.performedActions = actions.length;
  }

  private restartExecution(instance: Instance, input: unknown, now: Date): void {
    instance.generation += 1;
    instance.input = input;
    instance.history = [historyEvents.orchestratorStarted(now), historyEvents.executionStarted(now, instance.name, input)];
    instance.nextTaskId = 0;
    instance.performedActions = 0;
    instance.timerOfAction.clear();
    instance.retries.clear();
    instance.finalRetryTimers.clear();
  }

  private finish(instance: Instance, status: 'Completed' | 'Failed' | 'Terminated', output: unknown): void {
    instance.runtimeStatus = status;
    instance.output = output;
    instance.lastUpdatedTime = this.clock.now();
    this.logger.info('orchestration finished', { instanceId: instance.instanceId, orchestrator: instance.name, runtimeStatus: status });
    for (const waiter of [...instance.waiters]) waiter();
  }

  // ---- activities and timers ----

  private runActivity(instance: Instance, taskId: number, name: string, input: unknown): void {
    const generation = instance.generation;
    const registration = this.activities.get(functionKey(name));
    const execute = async (): Promise<Message> => {
      if (!registration) {
        return { kind: 'activityResult', generation, taskId, ok: false, failure: { ErrorType: 'Error', ErrorMessage: `The function '${name}' doesn't exist or is not an activity function.` } };
      }
      try {
        const value = await registration.handler(copy(input), invocationContextFor(registration, this.logger));
        return { kind: 'activityResult', generation, taskId, ok: true, value: value === undefined ? null : copy(value) };
      } catch (error) {
        return { kind: 'activityResult', generation, taskId, ok: false, failure: failureOf(error) };
      }
    };
    // Activities start after the current replay has been recorded, as they would from a work-item queue.
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(execute)
      .then((message) => this.enqueue(instance, () => this.handle(instance, message)));
    this.track(run);
  }

  private armTimer(instance: Instance, timerId: number, fireAt: Date): void {
    if (this.closed) return;
    const generation = instance.generation;
    // setTimeout cannot wait longer than ~24.8 days; a longer durable timer re-arms until it is due.
    const delayMs = Math.min(this.clock.realDelayMs(fireAt), MAX_SET_TIMEOUT_MS);
    const handle = setTimeout(() => {
      instance.timers.delete(timerId);
      if (this.clock.realDelayMs(fireAt) > 0) return this.armTimer(instance, timerId, fireAt);
      this.enqueue(instance, () => this.handle(instance, { kind: 'timerFired', generation, timerId, fireAt }));
    }, delayMs);
    instance.timers.set(timerId, handle);
  }

  private cancelTimer(instance: Instance, timerId: number | undefined): void {
    if (timerId === undefined) return;
    const handle = instance.timers.get(timerId);
    if (handle) clearTimeout(handle);
    instance.timers.delete(timerId);
  }

  private stopTimers(instance: Instance): void {
    for (const handle of instance.timers.values()) clearTimeout(handle);
    instance.timers.clear();
  }

  private running(instanceId: string): Instance {
    this.assertOpen();
    const instance = this.instances.get(instanceId);
    if (!instance) throw new DurableRequestError(`No instance with ID '${instanceId}' found.`, 404);
    if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      throw new DurableRequestError(`Instance '${instanceId}' is ${instance.runtimeStatus.toLowerCase()}.`, 410);
    }
    return instance;
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private assertOpen(): void {
    if (this.closed) throw new DurableRequestError('the durable engine is shut down', 410);
  }
}

function requireName(action: RawAction): string {
  if (!action.functionName) throw new UnsupportedActionError(`action type ${action.actionType} has no function name`);
  return action.functionName;
}
