import { CosmosClient, type CosmosClientOptions, type RetryOptions } from '@azure/cosmos';
import { resolveCredential, type CredentialInput } from '../app/credential.js';
import type { AppConfig } from '../config/index.js';
import { ArchiveError } from './errors.js';

export type CosmosSettings = AppConfig['cosmos'];

export interface CosmosClientFactoryOptions {
  /** The app's credential, used without `COSMOS_KEY` (its managed identity in the cloud; tests and tools pass others). */
  readonly credential?: CredentialInput;
  /** SDK throttling retries. @default {@link DEFAULT_SDK_RETRY} */
  readonly sdkRetry?: RetryOptions;
  /** Timeout of one HTTP request. @default 10000 */
  readonly requestTimeoutMs?: number;
  /**
   * Follow the account's advertised regional endpoints. @default true for cloud endpoints, false for
   * local ones (the emulators advertise an https address of themselves that a proxy or a plain-http
   * server does not answer on).
   */
  readonly endpointDiscovery?: boolean;
}

/** The SDK's 429 policy: retries honour `x-ms-retry-after-ms`; 9 tries and 30 s are the SDK's own defaults. */
export const DEFAULT_SDK_RETRY: RetryOptions = { maxRetryAttemptCount: 9, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 30 };

/**
 * Builds the Cosmos DB client from config: account key when `COSMOS_KEY` is set (local runs and the
 * embedded server), otherwise Microsoft Entra ID through the app's credential.
 */
export async function createCosmosClient(cosmos: CosmosSettings, options: CosmosClientFactoryOptions = {}): Promise<CosmosClient> {
  if (!cosmos.endpoint) throw new ArchiveError('COSMOS_ENDPOINT is not set', { operation: 'createCosmosClient' });
  const base: CosmosClientOptions = {
    endpoint: cosmos.endpoint,
    userAgentSuffix: 'rtvoice',
    connectionPolicy: {
      requestTimeout: options.requestTimeoutMs ?? 10_000,
      enableEndpointDiscovery: options.endpointDiscovery ?? !isLocalEndpoint(cosmos.endpoint),
      retryOptions: options.sdkRetry ?? DEFAULT_SDK_RETRY,
    },
  };
  if (cosmos.key) return new CosmosClient({ ...base, key: cosmos.key });
  if (!options.credential) throw new ArchiveError('COSMOS_ENDPOINT without COSMOS_KEY needs the app credential', { operation: 'createCosmosClient' });
  return new CosmosClient({ ...base, aadCredentials: await resolveCredential(options.credential) });
}

export function isLocalEndpoint(endpoint: string): boolean {
  const url = new URL(endpoint);
  return url.protocol === 'http:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}
