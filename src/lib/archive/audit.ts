import { randomUUID } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { redact } from '../telemetry/logger.js';
import { InvalidArchiveInputError } from './errors.js';
import { assertArchiveId, assertIsoTimestamp, sha256Hex } from './ids.js';
import { ChargeMeter, ContainerOps, withoutSystemFields, type CallOptions, type RepositoryOptions } from './repository-support.js';

export type AuditAction =
  | 'answered'
  | 'transferred'
  | 'ended'
  | 'auth_failed'
  | 'data_deleted'
  | 'profile_updated'
  | 'transcript_archived'
  | (string & {});

export type AuditDetailValue = string | number | boolean | null;

export interface AuditEvent {
  readonly callId: string;
  /** Who did it, e.g. `system:lifecycle`, `caller:<userId>`, `operator:<id>`. */
  readonly actor: string;
  readonly action: AuditAction;
  /** ISO time of the event. */
  readonly at: string;
  /** Phone numbers in string values are masked before storage. */
  readonly details?: Readonly<Record<string, AuditDetailValue>>;
}

export interface AuditDocument extends AuditEvent {
  readonly id: string;
  readonly type: 'audit';
}

export interface AppendOptions extends CallOptions {
  /**
   * Makes the append idempotent: the same key always maps to the same item id, so a retried
   * activity records the event once. Without it every append is a new event.
   */
  readonly idempotencyKey?: string;
}

/**
 * Append-only audit trail in container `audit` (partition key `/callId`, container TTL from
 * `AUDIT_TTL_DAYS`). Events are only ever created, never replaced or deleted by the app.
 */
export class AuditRepository {
  private readonly ops: ContainerOps;

  constructor(container: Container, options: RepositoryOptions) {
    this.ops = new ContainerOps(container, options);
  }

  /**
   * Records an event. `created` is false when the item was already there: the idempotency key was used
   * before, or an earlier attempt of this same call was applied but its answer was lost.
   */
  async append(event: AuditEvent, options: AppendOptions = {}): Promise<{ id: string; created: boolean }> {
    validate(event);
    // The id is fixed before the first attempt, so a retry after a lost response meets its own write (409).
    const id = options.idempotencyKey === undefined ? `${event.callId}:audit:${randomUUID()}` : `${event.callId}:audit:${sha256Hex(options.idempotencyKey).slice(0, 32)}`;
    const doc: AuditDocument = {
      id,
      type: 'audit',
      callId: event.callId,
      actor: redact(event.actor),
      action: event.action,
      at: event.at,
      ...(event.details === undefined ? {} : { details: maskDetails(event.details) }),
    };
    const created = await this.ops.createOnce('audit.append', doc, new ChargeMeter(), options.signal);
    return { id, created };
  }

  /** A call's events in time order. */
  async list(callId: string, options: CallOptions = {}): Promise<AuditDocument[]> {
    assertArchiveId('audit.list', 'callId', callId);
    const docs = await this.ops.query<AuditDocument>(
      'audit.list',
      'SELECT * FROM c WHERE c.callId = @callId ORDER BY c.at ASC',
      [{ name: '@callId', value: callId }],
      callId,
      new ChargeMeter(),
      options.signal,
    );
    return docs.map((d) => withoutSystemFields(d));
  }
}

function maskDetails(details: Readonly<Record<string, AuditDetailValue>>): Record<string, AuditDetailValue> {
  return Object.fromEntries(Object.entries(details).map(([k, v]) => [k, typeof v === 'string' ? redact(v) : v]));
}

function validate(e: AuditEvent): void {
  const op = 'audit.append';
  if (e === null || typeof e !== 'object') throw new InvalidArchiveInputError(op, 'event is not an object');
  assertArchiveId(op, 'callId', e.callId);
  if (typeof e.actor !== 'string' || e.actor.length === 0) throw new InvalidArchiveInputError(op, 'actor is empty');
  if (typeof e.action !== 'string' || e.action.length === 0) throw new InvalidArchiveInputError(op, 'action is empty');
  assertIsoTimestamp(op, 'at', e.at);
}
