import type { Turn } from './types.js';

/**
 * How many agent turns in a row, counting back from the last, began with `prefix`: the offline
 * responders' way of telling how often in a row they did not understand the caller.
 */
export function misunderstandingsInARow(history: readonly Turn[], prefix: string): number {
  let count = 0;
  for (let i = history.length - 1; i >= 0; i -= 1) {
    const turn = history[i]!;
    if (turn.role === 'user') continue;
    if (prefix !== '' && turn.text.startsWith(prefix)) count += 1;
    else break;
  }
  return count;
}

/** How many caller turns in a row, counting back from the last, were silence. */
export function silencesInARow(history: readonly Turn[]): number {
  let count = 0;
  for (let i = history.length - 1; i >= 0; i -= 1) {
    const turn = history[i]!;
    if (turn.role === 'assistant') continue;
    if (turn.text.trim() === '') count += 1;
    else break;
  }
  return count;
}
