import type { Container, ItemDefinition, RequestOptions } from '@azure/cosmos';
import { withArchiveRetry, type ArchiveRetryPolicy } from './retry.js';
import { ArchiveError } from './errors.js';
import type { Logger } from '../telemetry/logger.js';
import { recordCosmosCharge } from '../telemetry/metrics.js';

export interface RepositoryOptions {
  readonly retry: ArchiveRetryPolicy;
  readonly logger?: Logger | undefined;
}

export interface CallOptions {
  /** Cancels the operation between and during requests. */
  readonly signal?: AbortSignal;
}

/** Sums the request units of every response of one repository operation. */
export class ChargeMeter {
  total = 0;
  /** With `operation`, the charge is also counted in the `rtvoice.cosmos.request_charge` metric. */
  add(response: { requestCharge?: number }, operation?: string): void {
    if (typeof response.requestCharge === 'number' && Number.isFinite(response.requestCharge)) {
      this.total += response.requestCharge;
      if (operation !== undefined) recordCosmosCharge(response.requestCharge, operation);
    }
  }
}

/** Point operations with the module's retry, error typing and RU accounting, over one container. */
export class ContainerOps {
  constructor(
    readonly container: Container,
    private readonly options: RepositoryOptions,
  ) {}

  private ctx(signal: AbortSignal | undefined) {
    return { policy: this.options.retry, logger: this.options.logger, signal };
  }

  private requestOptions(signal: AbortSignal | undefined, extra: RequestOptions = {}): RequestOptions {
    return signal ? { ...extra, abortSignal: signal } : extra;
  }

  async read<T extends ItemDefinition>(operation: string, id: string, partitionKey: string, meter: ChargeMeter, signal?: AbortSignal): Promise<(T & { _etag?: string }) | undefined> {
    const response = await withArchiveRetry(operation, () => this.container.item(id, partitionKey).read<T>(this.requestOptions(signal)), this.ctx(signal));
    meter.add(response, operation);
    return response.resource as (T & { _etag?: string }) | undefined;
  }

  async upsert<T extends ItemDefinition>(operation: string, doc: T, meter: ChargeMeter, signal?: AbortSignal): Promise<void> {
    const response = await withArchiveRetry(operation, () => this.container.items.upsert(doc, this.requestOptions(signal)), this.ctx(signal));
    meter.add(response, operation);
  }

  /** Create; a 409 means an item with this id is already there (a retry of our own write): returns false. */
  async createOnce<T extends ItemDefinition>(operation: string, doc: T, meter: ChargeMeter, signal?: AbortSignal): Promise<boolean> {
    try {
      const response = await withArchiveRetry(operation, () => this.container.items.create(doc, this.requestOptions(signal)), this.ctx(signal));
      meter.add(response, operation);
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw err;
    }
  }

  /** Replace guarded by the etag read earlier; returns false when someone else wrote in between (412). */
  async replaceIfMatch<T extends ItemDefinition>(operation: string, doc: T, partitionKey: string, etag: string, meter: ChargeMeter, signal?: AbortSignal): Promise<boolean> {
    try {
      const response = await withArchiveRetry(
        operation,
        () => this.container.item(doc.id as string, partitionKey).replace(doc, this.requestOptions(signal, { accessCondition: { type: 'IfMatch', condition: etag } })),
        this.ctx(signal),
      );
      meter.add(response, operation);
      return true;
    } catch (err) {
      if (statusOf(err) === 412) return false;
      throw err;
    }
  }

  /** Delete; an item that is already gone counts as deleted (returns false). */
  async remove(operation: string, id: string, partitionKey: string, meter: ChargeMeter, signal?: AbortSignal): Promise<boolean> {
    try {
      const response = await withArchiveRetry(operation, () => this.container.item(id, partitionKey).delete(this.requestOptions(signal)), this.ctx(signal));
      meter.add(response, operation);
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /** A query inside one partition, every page fetched. */
  async query<T>(operation: string, query: string, parameters: { name: string; value: string | number }[], partitionKey: string, meter: ChargeMeter, signal?: AbortSignal): Promise<T[]> {
    const response = await withArchiveRetry(
      operation,
      () => this.container.items.query<T>({ query, parameters }, { partitionKey, ...(signal ? { abortSignal: signal } : {}) }).fetchAll(),
      this.ctx(signal),
    );
    meter.add(response, operation);
    return response.resources;
  }
}

/** Cosmos DB adds `_rid`, `_self`, `_etag`, `_attachments`, `_ts`; callers get their own fields back. */
export function withoutSystemFields<T extends object>(doc: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) if (!key.startsWith('_')) out[key] = value;
  return out as T;
}

function statusOf(err: unknown): number | undefined {
  return err instanceof ArchiveError ? err.statusCode : undefined;
}
