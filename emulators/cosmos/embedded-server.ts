import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createHttpServer } from '@vercel/cosmosdb-server';

/**
 * The Cosmos DB emulator's published, well-known account key. The embedded server does not check
 * signatures at all; the SDK only needs a well-formed base64 key to sign requests with.
 */
export const EMBEDDED_COSMOS_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface EmbeddedCosmos {
  /** `http://127.0.0.1:<port>`: plain HTTP, so no certificate and no TLS verification to switch off. */
  readonly endpoint: string;
  readonly key: string;
  readonly port: number;
  /** Stops listening and closes open connections; the data (in memory) is gone. Idempotent. */
  close(): Promise<void>;
}

export interface EmbeddedCosmosOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
}

/**
 * Starts `@vercel/cosmosdb-server` in this process, over plain HTTP. The real `@azure/cosmos` client
 * talks to it unchanged (it picks its http agent from the URL); build the client with endpoint
 * discovery off, as `createCosmosClient` does for local endpoints, because the server advertises an
 * https address of itself.
 *
 * What it does not do, so nothing here may rely on it: TTL expiry (stored, never enforced),
 * atomic transactional batches (operations apply one by one), change feed, request-unit accounting
 * (every response says 1 RU), the 2 MB item limit, authentication, and persistence.
 */
export async function startEmbeddedCosmos(options: EmbeddedCosmosOptions = {}): Promise<EmbeddedCosmos> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = createHttpServer({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host}:${port}`,
    key: EMBEDDED_COSMOS_KEY,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
