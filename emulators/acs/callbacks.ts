import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../src/lib/telemetry/logger.js';
import { postJson } from './http-post.js';
import { CALLBACK_TOKEN_LIFETIME_S, type TokenSigner } from './jwt.js';

/**
 * Delivers Call Automation callback events the way ACS does: one CloudEvent per POST, wrapped in a
 * JSON array, `Authorization: Bearer <RS256 JWT>`, in order per call, retried on a non-2xx answer.
 */

export interface CloudEvent {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly time: string;
  readonly specversion: '1.0';
  readonly datacontenttype: 'application/json';
  readonly subject: string;
}

export interface DeliveryAttempt {
  readonly attempt: number;
  readonly atMs: number;
  readonly status?: number;
  readonly error?: string;
}

export interface SentEvent {
  /** Short name, e.g. `CallConnected`. */
  readonly type: string;
  readonly event: CloudEvent;
  readonly queuedAtMs: number;
  readonly attempts: DeliveryAttempt[];
  delivered: boolean;
  /** True when the same event was POSTed twice on purpose (to exercise de-duplication). */
  duplicated: boolean;
}

export interface CallbackSenderOptions {
  readonly signer: TokenSigner;
  readonly logger: Logger;
  /** Pauses before each retry; its length is the number of retries. @default [200, 1000] */
  readonly retryDelaysMs?: readonly number[];
  readonly nowMs: () => number;
}

export function cloudEvent(callConnectionId: string, shortType: string, data: Record<string, unknown>): CloudEvent {
  const path = `calling/callConnections/${callConnectionId}`;
  return {
    id: randomUUID(),
    source: path,
    type: `Microsoft.Communication.${shortType}`,
    data,
    time: new Date().toISOString(),
    specversion: '1.0',
    datacontenttype: 'application/json',
    subject: path,
  };
}

export class CallbackSender {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly abort = new AbortController();
  private readonly retryDelaysMs: readonly number[];
  private readonly delays = new Map<string, { ms: number; count: number }>();

  constructor(private readonly options: CallbackSenderOptions) {
    this.retryDelaysMs = options.retryDelaysMs ?? [200, 1000];
  }

  /**
   * Queues the event behind the call's earlier events (or, with `overlap`, posts it at once);
   * resolves once delivered or given up.
   */
  send(queueKey: string, url: string, event: CloudEvent, opts: { duplicate?: boolean; overlap?: boolean } = {}): { sent: SentEvent; done: Promise<SentEvent> } {
    const sent: SentEvent = {
      type: event.type.replace('Microsoft.Communication.', ''),
      event,
      queuedAtMs: this.options.nowMs(),
      attempts: [],
      delivered: false,
      duplicated: opts.duplicate ?? false,
    };
    const previous = this.chains.get(queueKey) ?? Promise.resolve();
    const delay = this.delays.get(sent.type);
    if (delay && delay.count > 0) {
      // Held back and posted out of order: the events after it overtake it, as ACS's can.
      delay.count -= 1;
      const done = sleep(delay.ms).then(() => this.deliver(url, sent)).then(() => sent);
      this.chains.set(queueKey, Promise.allSettled([previous, done]));
      return { sent, done };
    }
    const done = (opts.overlap ? this.deliver(url, sent) : previous.then(() => this.deliver(url, sent))).then(() => sent);
    // The chain still covers every delivery, so `idle()` waits for overlapping ones too.
    this.chains.set(queueKey, opts.overlap ? Promise.allSettled([previous, done]) : done);
    return { sent, done };
  }

  /** The next `count` events of `type` (e.g. 'RecognizeCompleted') are posted `ms` late, after the ones that follow. */
  delayNext(type: string, ms: number, count = 1): void {
    this.delays.set(type, { ms, count });
  }

  /** Resolves when every queued callback has been delivered or given up. */
  async idle(): Promise<void> {
    while (true) {
      const pending = [...this.chains.values()];
      await Promise.allSettled(pending);
      if ([...this.chains.values()].every((p) => pending.includes(p))) return;
    }
  }

  close(): void {
    this.abort.abort();
  }

  private async deliver(url: string, sent: SentEvent): Promise<void> {
    const body = JSON.stringify([sent.event]);
    const copies = sent.duplicated ? 2 : 1;
    for (let copy = 0; copy < copies; copy += 1) {
      const ok = await this.postWithRetries(url, body, sent);
      sent.delivered ||= ok;
      if (!ok) return;
    }
  }

  private async postWithRetries(url: string, body: string, sent: SentEvent): Promise<boolean> {
    for (let attempt = 0; attempt <= this.retryDelaysMs.length; attempt += 1) {
      if (this.abort.signal.aborted) return false;
      if (attempt > 0) {
        try {
          await sleep(this.retryDelaysMs[attempt - 1], undefined, { signal: this.abort.signal });
        } catch {
          return false;
        }
      }
      const result = await this.postOnce(url, body);
      sent.attempts.push({ attempt: attempt + 1, atMs: this.options.nowMs(), ...result });
      if (result.status !== undefined && result.status >= 200 && result.status < 300) return true;
    }
    this.options.logger.warn('ACS emulator: callback not accepted after retries', {
      eventType: sent.type,
      eventId: sent.event.id,
      attempts: sent.attempts.length,
      lastStatus: sent.attempts.at(-1)?.status,
    });
    return false;
  }

  private async postOnce(url: string, body: string): Promise<{ status?: number; error?: string }> {
    try {
      const token = await this.options.signer.sign(CALLBACK_TOKEN_LIFETIME_S);
      const response = await postJson(url, body, { authorization: `Bearer ${token}` }, this.abort.signal);
      return { status: response.status };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }
}
