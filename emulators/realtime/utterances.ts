/**
 * The side channel for what the caller says. No speech recognition runs offline, so a test or the
 * scripted caller queues the words before speaking (`say(text, key)`), and the emulator's input
 * transcription takes the next queued text when server VAD ends a user turn.
 *
 * Queues are keyed by the client's `x-ms-client-request-id` header (the agent sends the call id there),
 * or by the emulator's session id; text queued without a key goes to any session. Unscripted speech is
 * transcribed as a fixed placeholder.
 */

export const UNSCRIPTED_TRANSCRIPT = 'hello';

export class UtteranceScript {
  private readonly queues = new Map<string, string[]>();
  private readonly anyone: string[] = [];

  /** Queues what the caller will say next (for the session whose correlation or session id is `key`). */
  say(text: string, key?: string): void {
    if (key === undefined) {
      this.anyone.push(text);
      return;
    }
    const queue = this.queues.get(key) ?? [];
    queue.push(text);
    this.queues.set(key, queue);
  }

  /** The next utterance for a session, trying its keys in order, then the shared queue. */
  next(keys: ReadonlyArray<string | undefined>): string {
    for (const key of keys) {
      if (key === undefined) continue;
      const text = this.queues.get(key)?.shift();
      if (text !== undefined) return text;
    }
    return this.anyone.shift() ?? UNSCRIPTED_TRANSCRIPT;
  }

  clear(): void {
    this.queues.clear();
    this.anyone.length = 0;
  }
}
