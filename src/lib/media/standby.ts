/**
 * Standby relays (`RELAY_STANDBY=true`): besides its owner, one other relay joins each call's
 * `call.<id>.in` and keeps the caller's audio (see caller-audio-buffer.ts). Frames published while no
 * relay is in the group are gone, so without a standby what the caller says between an owner's death
 * and the takeover (and what the dead owner heard but had not persisted) is lost; with one, the standby
 * takes the call over and replays it into the new agent session before the live frames.
 *
 * Choice: relays that know a call and do not own it race for its standby key (`SET NX EX` on the
 * affinity key of the identifier `standby.<callId>`, renewed on every beat like the affinity), so each
 * call has at most one standby. After a takeover the new owner (usually the standby) gives the key up,
 * and the other relays race for it again on the `call-claimed` announcement or their next beat.
 *
 * Takeover order: a relay that is not a call's standby waits {@link STANDBY_HEAD_START_MS} before
 * trying to take it over, so the standby, which holds the audio, wins unless it is gone too.
 *
 * Cost: every caller frame of the call is delivered twice by Web PubSub (to the owner and the standby),
 * and the standby parses each frame and keeps up to the buffer's bounds per call.
 */

import type { Logger } from '../telemetry/logger.js';
import type { AffinityClaim, Turn } from '../state/index.js';
import { CallerAudioBuffer, replayDecision, type CallerAudioBufferLimits } from './caller-audio-buffer.js';
import { inboundGroup } from './groups.js';

/** How long a relay that is not the call's standby waits before it takes the call over. */
export const STANDBY_HEAD_START_MS = 300;

/** The affinity operations the standby key rides on (the session store's). */
export interface StandbyClaimStore {
  claimAffinity(id: string, workerId: string, options?: { ttlSeconds?: number }): Promise<AffinityClaim>;
  renewAffinity(id: string, workerId: string, options?: { ttlSeconds?: number }): Promise<boolean>;
  releaseAffinity(id: string, workerId: string): Promise<boolean>;
}

export type StandbyOptions = {
  readonly workerId: string;
  readonly store: StandbyClaimStore;
  readonly logger: Logger;
  readonly ttlSeconds: number;
  /** The model's end-of-speech silence window (the relay's realtime sessions'). */
  readonly vadSilenceMs: number;
  readonly limits?: CallerAudioBufferLimits;
  /** Joins or leaves a group on the call's Web PubSub shard. */
  readonly joinGroup: (callId: string, group: string) => Promise<void>;
  readonly leaveGroup: (callId: string, group: string) => Promise<void>;
  /** Whether this relay owns the call: a relay is never its own call's standby. */
  readonly owns: (callId: string) => boolean;
};

export type StandbyStats = { readonly calls: number; readonly framesKept: number; readonly chars: number; readonly replays: number; readonly framesReplayed: number };

/** The standby key's identifier: a key of its own beside the call's affinity. */
export function standbyClaimId(callId: string): string {
  return `standby.${callId}`;
}

type StandingBy = { readonly callId: string; readonly buffer: CallerAudioBuffer };

export class StandbyRelay {
  private readonly byGroup = new Map<string, StandingBy>();
  private readonly byCall = new Map<string, StandingBy>();
  private readonly offering = new Set<string>();
  private replays = 0;
  private framesReplayed = 0;
  private stopped = false;

  constructor(private readonly options: StandbyOptions) {}

  isStandbyFor(callId: string): boolean {
    return this.byCall.has(callId);
  }

  /** The hot path: true when the frame was a standby call's (and is kept). */
  onGroupMessage(group: string, data: unknown): boolean {
    const entry = this.byGroup.get(group);
    if (!entry) return false;
    if (typeof data === 'string') entry.buffer.push(data);
    return true;
  }

  /** A call this relay knows and does not own: stand by for it if no other relay does. */
  async offer(callId: string): Promise<void> {
    if (this.stopped || this.byCall.has(callId) || this.offering.has(callId) || this.options.owns(callId)) return;
    this.offering.add(callId);
    try {
      const claim = await this.options.store.claimAffinity(standbyClaimId(callId), this.options.workerId, { ttlSeconds: this.options.ttlSeconds });
      if (!claim.claimed) return;
      if (this.stopped || this.options.owns(callId)) {
        await this.release(callId);
        return;
      }
      const entry: StandingBy = { callId, buffer: new CallerAudioBuffer(this.options.limits) };
      // Kept from the join on: frames arrive once the membership is in place.
      this.byCall.set(callId, entry);
      this.byGroup.set(inboundGroup(callId), entry);
      try {
        await this.options.joinGroup(callId, inboundGroup(callId));
      } catch (error) {
        this.forget(callId);
        await this.release(callId);
        throw error;
      }
    } catch (error) {
      this.options.logger.warn('relay could not stand by for a call', { callId, error: error as Error });
    } finally {
      this.offering.delete(callId);
    }
  }

  /**
   * This relay takes the call over: the caller audio to replay after the persisted conversation, and
   * the standby key given up so another relay stands by. Synchronous, so no live frame falls between
   * the buffer and the new bridge. The group membership stays: the bridge uses it.
   */
  handOver(callId: string, history: readonly Turn[]): string[] {
    const entry = this.byCall.get(callId);
    if (!entry) return [];
    this.forget(callId);
    void this.release(callId);
    const decision = replayDecision(history, { vadSilenceMs: this.options.vadSilenceMs });
    const frames = entry.buffer.replay(decision);
    this.replays += 1;
    this.framesReplayed += frames.length;
    this.options.logger.info('replaying the caller audio a standby kept', {
      callId,
      decision: decision.kind,
      ...(decision.kind === 'none' ? { reason: decision.reason } : {}),
      frames: frames.length,
      droppedByBounds: entry.buffer.dropped,
    });
    return frames;
  }

  /** The call ended, or another relay holds its standby key: leave its group and give the key up. */
  async drop(callId: string): Promise<void> {
    if (!this.byCall.has(callId)) return;
    this.forget(callId);
    await this.options.leaveGroup(callId, inboundGroup(callId)).catch((error: unknown) => this.options.logger.warn('standby could not leave a call group', { callId, error: error as Error }));
    await this.release(callId);
  }

  /** On each heartbeat: renews every standby key; a key another relay holds now is let go. */
  async renew(): Promise<void> {
    for (const callId of [...this.byCall.keys()]) {
      try {
        if (await this.options.store.renewAffinity(standbyClaimId(callId), this.options.workerId, { ttlSeconds: this.options.ttlSeconds })) continue;
        const claim = await this.options.store.claimAffinity(standbyClaimId(callId), this.options.workerId, { ttlSeconds: this.options.ttlSeconds });
        if (!claim.claimed) await this.drop(callId);
      } catch (error) {
        this.options.logger.warn('standby key renewal failed', { callId, error: error as Error });
      }
    }
  }

  /**
   * Resolves once a relay that is not the call's standby may try to take it over: at once for the
   * standby, after the head start for the others.
   */
  headStart(callId: string): Promise<void> {
    if (this.byCall.has(callId)) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, STANDBY_HEAD_START_MS).unref());
  }

  stats(): StandbyStats {
    let framesKept = 0;
    let chars = 0;
    for (const entry of this.byCall.values()) {
      framesKept += entry.buffer.length;
      chars += entry.buffer.size;
    }
    return { calls: this.byCall.size, framesKept, chars, replays: this.replays, framesReplayed: this.framesReplayed };
  }

  /** Graceful stop: every standby call is left and its key given up. */
  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.byCall.keys()].map((callId) => this.drop(callId)));
  }

  /** As a killed process: nothing is released (the keys expire). */
  terminate(): void {
    this.stopped = true;
    this.byCall.clear();
    this.byGroup.clear();
  }

  private forget(callId: string): void {
    this.byCall.delete(callId);
    this.byGroup.delete(inboundGroup(callId));
  }

  private async release(callId: string): Promise<void> {
    await this.options.store.releaseAffinity(standbyClaimId(callId), this.options.workerId).catch((error: unknown) => this.options.logger.warn('standby key release failed; it will expire', { callId, error: error as Error }));
  }
}
