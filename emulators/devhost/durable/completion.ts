import { DurableRequestError } from '../errors.js';
import { statusOf, TERMINAL_STATUSES, type Instance, type InstanceStatus } from './instance.js';

export interface WaitOptions {
  /** @default 30000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Resolves with the instance's status once it is Completed, Failed or Terminated. */
export function awaitTerminal(instance: Instance, options: WaitOptions = {}): Promise<InstanceStatus> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const done = () => (TERMINAL_STATUSES.has(instance.runtimeStatus) ? statusOf(instance) : undefined);
  const already = done();
  if (already) return Promise.resolve(already);
  return new Promise<InstanceStatus>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      instance.waiters.delete(check);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const check = () => {
      const status = done();
      if (!status) return;
      cleanup();
      resolve(status);
    };
    const onAbort = () => {
      cleanup();
      reject(options.signal?.reason ?? new Error('aborted'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new DurableRequestError(`Instance '${instance.instanceId}' did not complete within ${timeoutMs} ms (status ${instance.runtimeStatus}).`, 409));
    }, timeoutMs);
    instance.waiters.add(check);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
