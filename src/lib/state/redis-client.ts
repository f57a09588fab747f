import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { TokenCredential, AccessToken } from '@azure/identity';
import { resolveCredential, type CredentialInput } from '../app/credential.js';
import type { RedisConfig } from '../config/index.js';
import { RedisCommandError, RedisUnavailableError } from './errors.js';
import type { Logger } from '../telemetry/logger.js';

export type RedisClient = Redis | Cluster;

/** Scope of Microsoft Entra ID tokens for Azure Managed Redis / Azure Cache for Redis. */
export const REDIS_ENTRA_SCOPE = 'https://redis.azure.com/.default';

/** Re-authenticate this long before the token expires, so no command ever runs on a stale token. */
const REAUTH_MARGIN_MS = 5 * 60_000;
const MIN_REAUTH_DELAY_MS = 15_000;

export interface CreateRedisOptions {
  /** Required when `config.auth === 'entra'`: the app's credential (its managed identity in the cloud). */
  credential?: CredentialInput;
  /**
   * When a token is replaced: this long before it expires, but no sooner than `minDelayMs` after the
   * last one. @default { marginMs: 5 min, minDelayMs: 15 s }
   */
  tokenRefresh?: { marginMs?: number; minDelayMs?: number };
  logger?: Logger;
  /** Connection name shown by `CLIENT LIST`, e.g. the worker id. */
  connectionName?: string;
}

export interface ManagedRedis {
  readonly client: RedisClient;
  /** Resolves when the connection is ready; rejects with {@link RedisUnavailableError} after the connect timeout. */
  ready(): Promise<void>;
  /** QUIT (waiting for replies in flight), then disconnect; stops token refresh. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates an ioredis client from validated config: standalone or OSS cluster, TLS, key or Entra ID auth.
 *
 * Commands fail fast instead of queueing while Redis is away: no offline queue, one attempt per
 * request and a short command timeout. The state layer's circuit breaker decides what happens next.
 */
export async function createRedis(config: RedisConfig, options: CreateRedisOptions = {}): Promise<ManagedRedis> {
  const entra = config.auth === 'entra' ? await EntraAuth.start(options) : undefined;
  const auth = entra ? { username: entra.username, password: entra.password } : config.auth === 'key' ? { password: config.password } : {};

  const base: RedisOptions = {
    ...auth,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: config.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    lazyConnect: true,
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    ...(config.tls ? { tls: { servername: config.host } } : {}),
  };
  const reconnectDelay = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000);

  let client: RedisClient;
  if (config.cluster) {
    // ioredis follows MOVED/ASK at once and retries TRYAGAIN, CLUSTERDOWN and a connection lost in a
    // failover after a delay, up to maxRedirections times. The defaults (100 ms × 16) hold a command
    // for 1.6 s; these keep every retry inside the command timeout, which the Redis tier enforces as
    // a deadline anyway (a command still retried after it is reported as "uncertain" to the journal).
    const retryDelayMs = Math.max(10, Math.floor(config.commandTimeoutMs / 5));
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue: false,
      lazyConnect: true,
      clusterRetryStrategy: reconnectDelay,
      retryDelayOnFailover: retryDelayMs,
      retryDelayOnClusterDown: retryDelayMs,
      retryDelayOnTryAgain: retryDelayMs,
      retryDelayOnMoved: 0,
      maxRedirections: 6,
      slotsRefreshTimeout: Math.max(config.connectTimeoutMs, 1000),
      // Azure Managed Redis advertises node addresses that must be used as-is, with SNI on the host name.
      dnsLookup: (address, callback) => callback(null, address),
      redisOptions: base,
    };
    client = new Cluster([{ host: config.host, port: config.port }], clusterOptions);
  } else {
    client = new Redis({ ...base, host: config.host, port: config.port, retryStrategy: reconnectDelay });
  }
  // ioredis emits 'error' for every failed reconnect; without a listener Node would crash the process.
  client.on('error', (err: Error) => options.logger?.debug('redis connection error', { error: err.message }));
  entra?.attach(client);

  let readyPromise: Promise<void> | undefined;
  let closed = false;
  return {
    client,
    ready() {
      readyPromise ??= connectWithTimeout(client, config.connectTimeoutMs);
      return readyPromise;
    },
    async close() {
      if (closed) return;
      closed = true;
      entra?.stop();
      try {
        if (client.status === 'ready') {
          await Promise.race([client.quit(), delay(1000)]);
        }
      } catch (err) {
        options.logger?.debug('redis quit failed; disconnecting', { error: (err as Error).message });
      } finally {
        if (client.status !== 'end') {
          const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
          client.disconnect();
          await Promise.race([ended, delay(1000)]);
        }
      }
    },
  };
}

async function connectWithTimeout(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      // A cluster client opens a node's connection at its first command: open every master's now, so
      // the first operations on each shard do not spend their deadline connecting.
      client instanceof Cluster ? client.connect().then(() => Promise.all(client.nodes('master').map((node) => node.ping()))) : client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new RedisUnavailableError('connect', err);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Failures that say where Redis is or whether it can answer now, not what it thinks of the command:
 * retried or journaled, never dropped. On a cluster that includes the redirections (MOVED, ASK: the
 * slot map changed under a failover, a migration or a reshard), TRYAGAIN (keys of a slot mid-move),
 * CLUSTERDOWN, READONLY (a write reached a master that was demoted), MASTERDOWN, and a node whose
 * connection is lost or whose credentials are being replaced.
 */
const UNAVAILABLE_PATTERNS = [
  /Command timed out/i,
  /Connection is closed/i,
  /Stream isn't writeable/i,
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|ECONNABORTED/,
  /^(ReplyError: )?(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|MOVED|ASK|READONLY|NOAUTH|WRONGPASS)\b/,
  /Too many Cluster redirections/i,
  /Reached the max retries per request limit/i,
  /Failed to refresh slots cache|None of startup nodes is available/i,
  /Cluster isn't ready|Cluster is (ended|disconnected|disconnecting)|Node is disconnected|isn't ready and enableOfflineQueue/i,
  /not ready after|deadline of \d+ ms passed/i,
];

/** Sorts an ioredis failure into "Redis is away" (retryable) and "Redis said no" (not retryable). */
export function toRedisError(operation: string, err: unknown): RedisUnavailableError | RedisCommandError {
  if (err instanceof RedisUnavailableError || err instanceof RedisCommandError) return err;
  return isTransient(err) ? new RedisUnavailableError(operation, err) : new RedisCommandError(operation, err);
}

function isTransient(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string } | undefined)?.code ?? '';
  if (UNAVAILABLE_PATTERNS.some((p) => p.test(message) || p.test(code))) return true;
  // EXECABORT: a transaction discarded because a queued command failed. It is transient when that
  // failure was (a MOVED while queueing after a failover), a refusal when it was (a syntax error).
  if (/^EXECABORT/.test(message)) {
    const previous = (err as { previousErrors?: unknown[] }).previousErrors ?? [];
    return previous.length > 0 && previous.every((e) => isTransient(e));
  }
  return false;
}

/** Runs one Redis operation and converts its failure into a typed state error. */
export async function redisOp<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw toRedisError(operation, err);
  }
}

/**
 * Entra ID (managed identity) auth: the token is the password, its `oid` the username. Tokens live
 * about an hour, so the live connections are re-authenticated (AUTH) before expiry, and new
 * connections pick up the current token from the options.
 */
class EntraAuth {
  private timer: NodeJS.Timeout | undefined;
  private client: RedisClient | undefined;

  private constructor(
    private readonly credential: TokenCredential,
    private token: AccessToken,
    private readonly logger: Logger | undefined,
    private readonly marginMs: number,
    private readonly minDelayMs: number,
  ) {}

  static async start(options: CreateRedisOptions): Promise<EntraAuth> {
    if (!options.credential) throw new RedisUnavailableError('entra token', new Error('REDIS_AUTH=entra needs the app credential'));
    const credential = await resolveCredential(options.credential);
    const token = await credential.getToken(REDIS_ENTRA_SCOPE);
    if (!token) throw new RedisUnavailableError('entra token', new Error('credential returned no token'));
    const auth = new EntraAuth(credential, token, options.logger, options.tokenRefresh?.marginMs ?? REAUTH_MARGIN_MS, options.tokenRefresh?.minDelayMs ?? MIN_REAUTH_DELAY_MS);
    auth.schedule();
    return auth;
  }

  get username(): string {
    return tokenObjectId(this.token.token);
  }
  get password(): string {
    return this.token.token;
  }

  attach(client: RedisClient): void {
    this.client = client;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const due = Math.max(this.token.expiresOnTimestamp - Date.now() - this.marginMs, this.minDelayMs);
    this.timer = setTimeout(() => void this.refresh(), due);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    try {
      const next = await this.credential.getToken(REDIS_ENTRA_SCOPE);
      if (!next) throw new Error('credential returned no token');
      this.token = next;
      await this.reauthenticate();
    } catch (err) {
      this.logger?.error('redis re-authentication failed; retrying', { error: (err as Error).message });
    } finally {
      if (this.timer) this.schedule();
    }
  }

  private async reauthenticate(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const { username, password } = this;
    if (client instanceof Cluster) {
      // Three places hold credentials: the options new node connections are made from, each node's
      // own copy (a reconnect, and the duplicate ioredis opens to refresh the slot map, use it), and
      // the live connections (AUTH). A node that cannot be reached now is updated all the same.
      if (client.options.redisOptions) Object.assign(client.options.redisOptions, { username, password });
      const nodes = client.nodes('all');
      for (const node of nodes) Object.assign(node.options, { username, password });
      const results = await Promise.allSettled(nodes.filter((node) => node.status === 'ready').map((node) => node.auth(username, password)));
      const failed = results.filter((r) => r.status === 'rejected').length;
      if (failed > 0) this.logger?.warn('redis re-authentication failed on some nodes; they use the new token when they reconnect', { failed, nodes: nodes.length });
    } else {
      Object.assign(client.options, { username, password });
      if (client.status === 'ready') await client.auth(username, password);
    }
  }
}

/** The `oid` claim of a JWT access token, which Azure Redis expects as the ACL user name. */
export function tokenObjectId(jwt: string): string {
  const payload = jwt.split('.')[1];
  if (!payload) throw new Error('access token is not a JWT');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { oid?: string };
  if (!claims.oid) throw new Error('access token has no oid claim');
  return claims.oid;
}
