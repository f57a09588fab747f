import type { ArchiveResult, FinalizeRequest, FinalizedCall, LifecycleAuditEntry, LifecycleDeps } from '../../src/lib/lifecycle/index.js';

export type Operation = keyof LifecycleDeps;

/**
 * Lifecycle dependencies that record every call and can be told to fail. The real session store,
 * archive and ACS client are tested on their own against real Redis, the embedded Cosmos server and
 * the ACS emulator; these tests are about the orchestration: order, retries, timers and determinism.
 */
export class RecordingDeps implements LifecycleDeps {
  readonly calls: Array<{ op: Operation; arg: unknown }> = [];
  private readonly failuresLeft = new Map<Operation, { times: number; error: () => unknown }>();

  /**
   * The next `times` calls of `op` throw (use Infinity for a dependency that stays down): a plain Error
   * (which the error policy retries) unless `error` makes another.
   */
  failNext(op: Operation, times: number, error: () => unknown = () => new Error(`${op} unavailable`)): this {
    this.failuresLeft.set(op, { times, error });
    return this;
  }

  ops(): Operation[] {
    return this.calls.map((c) => c.op);
  }

  private record(op: Operation, arg: unknown): void {
    this.calls.push({ op, arg });
    const failure = this.failuresLeft.get(op);
    if (failure && failure.times > 0) {
      failure.times -= 1;
      throw failure.error();
    }
  }

  async finalize(request: FinalizeRequest): Promise<FinalizedCall> {
    this.record('finalize', request);
    const durationSeconds = Math.round((Date.parse(request.endedAt) - Date.parse(request.startedAt)) / 1000);
    return { ...request, durationSeconds, turnCount: 5, summary: `call ${request.callId} ended: ${request.endReason}` };
  }

  async archiveTranscript(call: FinalizedCall): Promise<ArchiveResult> {
    this.record('archiveTranscript', call);
    return { turnsArchived: call.turnCount };
  }

  async updateProfile(call: FinalizedCall): Promise<void> {
    this.record('updateProfile', call);
  }

  async recordAnalytics(call: FinalizedCall): Promise<void> {
    this.record('recordAnalytics', call);
  }

  async appendAudit(entry: LifecycleAuditEntry): Promise<void> {
    this.record('appendAudit', entry);
  }

  async cleanup(callId: string): Promise<void> {
    this.record('cleanup', callId);
  }

  async keepAlive(callId: string): Promise<void> {
    this.record('keepAlive', callId);
  }

  async hangUp(callConnectionId: string): Promise<void> {
    this.record('hangUp', callConnectionId);
  }
}
