import type { Container, ContainerDefinition, CosmosClient } from '@azure/cosmos';
import { withArchiveRetry, type RetryContext } from './retry.js';

export const CONTAINER_NAMES = ['transcripts', 'profiles', 'analytics', 'audit'] as const;
export type ContainerName = (typeof CONTAINER_NAMES)[number];
export type ArchiveContainers = { readonly [N in ContainerName]: Container };

const SECONDS_PER_DAY = 86_400;

/**
 * Container definitions. Indexing is opt-in for transcripts: only the fields a query filters on are
 * indexed, never the turns (the text of the conversation) or the summary, which keeps writes cheap
 * and keeps what callers said out of the index.
 */
export function containerDefinitions(auditTtlDays: number): { readonly [N in ContainerName]: ContainerDefinition } {
  return {
    transcripts: {
      id: 'transcripts',
      partitionKey: { paths: ['/callId'] },
      indexingPolicy: {
        indexingMode: 'consistent',
        automatic: true,
        includedPaths: ['/callId/?', '/type/?', '/page/?', '/caller/?', '/startedAt/?', '/outcome/?'].map((path) => ({ path })),
        excludedPaths: [{ path: '/*' }],
      },
    },
    profiles: { id: 'profiles', partitionKey: { paths: ['/userId'] } },
    analytics: { id: 'analytics', partitionKey: { paths: ['/day'] } },
    audit: {
      id: 'audit',
      partitionKey: { paths: ['/callId'] },
      // Cosmos DB deletes audit items this long after their last write. The embedded test server stores
      // the setting but never expires anything.
      defaultTtl: auditTtlDays * SECONDS_PER_DAY,
    },
  };
}

/**
 * Creates the database and the four containers when missing (start-up). An existing container is
 * left as it is: `createIfNotExists` does not change its indexing policy or TTL.
 */
export async function ensureArchiveContainers(client: CosmosClient, databaseId: string, auditTtlDays: number, ctx: RetryContext): Promise<ArchiveContainers> {
  const { database } = await withArchiveRetry('archive.createDatabase', () => client.databases.createIfNotExists({ id: databaseId }), ctx);
  const definitions = containerDefinitions(auditTtlDays);
  const entries = await Promise.all(
    CONTAINER_NAMES.map(async (name) => {
      const { container } = await withArchiveRetry(`archive.createContainer.${name}`, () => database.containers.createIfNotExists(definitions[name]), ctx);
      return [name, container] as const;
    }),
  );
  return Object.fromEntries(entries) as ArchiveContainers;
}
