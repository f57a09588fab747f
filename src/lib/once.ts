/**
 * Values computed on first use and kept for the life of whatever holds the function: the process's
 * built-in agent files, an app's clients.
 */

/**
 * `create`'s value, computed on the first call and returned by every later one (`undefined`
 * included). A call that throws keeps nothing, so the next call computes again.
 *
 * @example
 * const prompts = once(() => parsePrompts(readFileSync(file, 'utf8')));
 */
export function once<T>(create: () => T): () => T {
  let value: { readonly current: T } | undefined;
  return () => (value ??= { current: create() }).current;
}

/**
 * The promise of `create`'s first call that succeeds, shared by every caller (concurrent ones
 * included). A rejection is not kept: the callers waiting on it see it, and the next call starts again.
 *
 * @example
 * const client = onceSucceeded(() => connect(settings));
 */
export function onceSucceeded<T>(create: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= create().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
}
