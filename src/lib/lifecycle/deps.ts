import { LifecycleNotConfiguredError } from './errors.js';
import type { LifecycleDeps } from './types.js';

export type LifecycleDepsProvider = LifecycleDeps | (() => LifecycleDeps | Promise<LifecycleDeps>);

let provider: LifecycleDepsProvider | undefined;

/**
 * Gives the lifecycle activities their dependencies. The composition root calls this once per process
 * (a factory is resolved on every activity invocation, so it can hand out lazily created clients);
 * tests set recording implementations. Passing `undefined` clears it.
 *
 * @example
 * setLifecycleDeps(() => lifecycleDepsFrom(runtime()));
 */
export function setLifecycleDeps(next: LifecycleDepsProvider | undefined): void {
  provider = next;
}

/** The dependencies set by {@link setLifecycleDeps}; throws `LifecycleNotConfiguredError` when none were. */
export async function getLifecycleDeps(): Promise<LifecycleDeps> {
  if (!provider) throw new LifecycleNotConfiguredError();
  return typeof provider === 'function' ? provider() : provider;
}
