import type { CosmosClient } from '@azure/cosmos';
import type { AppConfig } from '../config/index.js';
import { RedisKeys } from '../state/index.js';
import type { Logger } from '../telemetry/logger.js';
import { AnalyticsRepository } from './analytics.js';
import { AuditRepository } from './audit.js';
import { createCosmosClient, type CosmosClientFactoryOptions } from './client.js';
import { ensureArchiveContainers, type ArchiveContainers } from './containers.js';
import type { PageLimits } from './paging.js';
import { ProfileRepository, type ProfileCacheClient } from './profiles.js';
import { DEFAULT_ARCHIVE_RETRY, type ArchiveRetryPolicy } from './retry.js';
import { TranscriptRepository } from './transcripts.js';

export interface Archive {
  readonly transcripts: TranscriptRepository;
  readonly profiles: ProfileRepository;
  readonly analytics: AnalyticsRepository;
  readonly audit: AuditRepository;
  readonly containers: ArchiveContainers;
  readonly client: CosmosClient;
  /** Releases the Cosmos client when the archive created it. Idempotent. */
  close(): Promise<void>;
}

export interface OpenArchiveOptions {
  /** Redis client for the profile cache (`ManagedRedis.client`); without one profiles are read from Cosmos DB each time. */
  readonly redis?: ProfileCacheClient | undefined;
  readonly logger?: Logger;
  /** Use this client instead of building one from config; it is then not disposed by `close()`. */
  readonly client?: CosmosClient;
  /** Options for the client built from config (SDK retry, timeout, credential). */
  readonly clientOptions?: CosmosClientFactoryOptions;
  /** Our own retry around each request. @default {@link DEFAULT_ARCHIVE_RETRY} */
  readonly retry?: ArchiveRetryPolicy;
  readonly pageLimits?: PageLimits;
  /** Requests in flight per transcript operation. @default 4 */
  readonly concurrency?: number;
}

/**
 * Opens the archive: builds the Cosmos client from `config.cosmos` (key locally, managed identity in
 * the cloud), creates the database and containers when missing, and wires the four repositories.
 * Call once per process (the composition root keeps it) — container creation is a start-up cost.
 *
 * @example
 * const archive = await openArchive(config, { redis: (await runtime.redis()).client, logger });
 * await archive.transcripts.archive(transcript);
 */
export async function openArchive(config: AppConfig, options: OpenArchiveOptions = {}): Promise<Archive> {
  const owned = options.client === undefined;
  const client = options.client ?? (await createCosmosClient(config.cosmos, { ...options.clientOptions }));
  const retry = options.retry ?? DEFAULT_ARCHIVE_RETRY;
  const base = { retry, logger: options.logger };
  try {
    const containers = await ensureArchiveContainers(client, config.cosmos.database, config.cosmos.auditTtlDays, { policy: retry, logger: options.logger });
    let closed = false;
    return {
      transcripts: new TranscriptRepository(containers.transcripts, {
        ...base,
        ...(options.pageLimits ? { pageLimits: options.pageLimits } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      }),
      profiles: new ProfileRepository(containers.profiles, { ...base, cache: options.redis, keys: new RedisKeys(config.keyPrefix, config.env) }),
      analytics: new AnalyticsRepository(containers.analytics, base),
      audit: new AuditRepository(containers.audit, base),
      containers,
      client,
      async close() {
        if (closed) return;
        closed = true;
        if (owned) client.dispose();
      },
    };
  } catch (err) {
    if (owned) client.dispose();
    throw err;
  }
}

export { AnalyticsRepository, type CallAnalytics, type CallAnalyticsDocument, type DailyRollup } from './analytics.js';
export { AuditRepository, type AppendOptions, type AuditAction, type AuditDetailValue, type AuditDocument, type AuditEvent } from './audit.js';
export { createCosmosClient, isLocalEndpoint, DEFAULT_SDK_RETRY, type CosmosClientFactoryOptions, type CosmosSettings } from './client.js';
export { CONTAINER_NAMES, containerDefinitions, ensureArchiveContainers, type ArchiveContainers, type ContainerName } from './containers.js';
export {
  ArchiveAbortedError,
  ArchiveError,
  ArchiveRejectedError,
  ArchiveUnavailableError,
  InvalidArchiveInputError,
  ProfileCacheError,
  TranscriptIntegrityError,
} from './errors.js';
export { userIdFromPhoneNumber, utcDay } from './ids.js';
export { LATENCY_BUCKET_BOUNDS_MS, combineLatency, summarizeLatency, type CombinedLatency, type LatencySummary } from './latency.js';
export { DEFAULT_PAGE_LIMITS, MAX_TURN_BYTES, paginateTurns, type PageLimits } from './paging.js';
export { ProfileRepository, type CallVisit, type ProfileCacheClient, type UserProfile, type UserProfileInput } from './profiles.js';
export type { CallOptions } from './repository-support.js';
export { DEFAULT_ARCHIVE_RETRY, type ArchiveRetryPolicy } from './retry.js';
export { TranscriptRepository } from './transcripts.js';
export * from './transcript-types.js';
