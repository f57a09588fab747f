/**
 * The side channel for what the caller says. No speech recognition runs offline, so a test or the
 * scripted caller queues the words before speaking (`say(text, key)`), and the emulator's input
 * transcription takes the next queued text when server VAD ends a user turn.
 *
 * Queues are keyed by the client's `x-ms-client-request-id` header (the agent sends the call id there),
 * or by the emulator's session id; text queued without a key goes to any session. Unscripted speech is
 * transcribed as a fixed placeholder.
 *
 * An utterance may carry an id (ACS's TranscriptionData offset in the call's stream): the same
 * utterance queued again while it still waits — a relay replaying the caller's audio after a failover
 * passes the same frames on once more — is queued once. Once transcribed it can be queued again, as a
 * session that hears the audio again transcribes it again.
 */

export const UNSCRIPTED_TRANSCRIPT = 'hello';

type Queued = { readonly text: string; readonly id: string | undefined };

export class UtteranceScript {
  private readonly queues = new Map<string, Queued[]>();
  private readonly anyone: Queued[] = [];

  /** Queues what the caller will say next (for the session whose correlation or session id is `key`). */
  say(text: string, key?: string, utteranceId?: string): void {
    const queue = key === undefined ? this.anyone : (this.queues.get(key) ?? []);
    if (utteranceId !== undefined && queue.some((q) => q.id === utteranceId)) return;
    queue.push({ text, id: utteranceId });
    if (key !== undefined) this.queues.set(key, queue);
  }

  /** The next utterance for a session, trying its keys in order, then the shared queue. */
  next(keys: ReadonlyArray<string | undefined>): string {
    for (const key of keys) {
      if (key === undefined) continue;
      const queued = this.queues.get(key)?.shift();
      if (queued !== undefined) return queued.text;
    }
    return this.anyone.shift()?.text ?? UNSCRIPTED_TRANSCRIPT;
  }

  clear(): void {
    this.queues.clear();
    this.anyone.length = 0;
  }
}
