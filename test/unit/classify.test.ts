import { RestError } from '@azure/core-rest-pipeline';
import { Redis, ReplyError } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../emulators/cosmos/index.js';
import { AgentsError, AgentDefinitionError, ToolError } from '../../src/lib/agents/errors.js';
import { AgentError } from '../../src/lib/agent/types.js';
import { connectError, RealtimeAgentError } from '../../src/lib/agent/realtime/errors.js';
import { createCosmosClient } from '../../src/lib/archive/client.js';
import { toArchiveError } from '../../src/lib/archive/cosmos-errors.js';
import { ArchiveError, ArchiveUnavailableError, InvalidArchiveInputError, TranscriptIntegrityError } from '../../src/lib/archive/errors.js';
import { ConfigError, loadConfig } from '../../src/lib/config/index.js';
import { AppError, CallGoneError, classify } from '../../src/lib/errors.js';
import { InvalidLifecycleInputError, LifecycleError, LifecycleStepFailedError } from '../../src/lib/lifecycle/errors.js';
import { RelayError, CallActionError } from '../../src/lib/media/errors.js';
import { MediaFrameError, parseMediaFrame } from '../../src/lib/media/codec.js';
import { InvalidIdentifierError, JournalOverflowError, RedisCommandError, RedisUnavailableError, StateError, StateLostError } from '../../src/lib/state/errors.js';
import { assertValidIdentifier } from '../../src/lib/state/keys.js';
import { closedPort } from '../support/ports.js';

/** What a call throws, as a value: these tests classify what real code raised, not hand-made shapes. */
async function failureOf(action: () => unknown): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the action to fail');
}

describe('classify: errors of every module share one root', () => {
  it('puts every module error under AppError, keeping its own class, name and cause', () => {
    const cause = new Error('socket closed');
    const errors = [
      new RedisUnavailableError('GET', cause),
      new ArchiveUnavailableError('transcripts.read', cause, 503),
      new InvalidLifecycleInputError('callId: required'),
      new RelayError('no shard', false),
      new AgentDefinitionError([]),
      new AgentError('down', { code: 'unavailable', retryable: true }),
      new RealtimeAgentError('refused', { code: 'auth', retryable: false, status: 401 }),
      new ConfigError([]),
    ];
    for (const error of errors) expect(error).toBeInstanceOf(AppError);
    expect(errors[0]).toBeInstanceOf(StateError);
    expect(errors[0]).toMatchObject({ name: 'RedisUnavailableError', code: 'redis_unavailable', retryable: true, cause, context: { operation: 'GET' } });
    expect(errors[1]).toBeInstanceOf(ArchiveError);
    expect(errors[2]).toBeInstanceOf(LifecycleError);
    expect(errors[4]).toBeInstanceOf(AgentsError);
    expect(errors[6]).toMatchObject({ code: 'auth', status: 401, retryable: false });
  });
});

describe('classify on real errors', () => {
  let redis: Redis;
  let cosmos: EmbeddedCosmos;

  beforeAll(async () => {
    redis = new Redis({ host: inject('redisHost'), port: inject('redisPort'), lazyConnect: true, maxRetriesPerRequest: 0 });
    await redis.connect();
    cosmos = await startEmbeddedCosmos();
  });
  afterAll(async () => {
    redis?.disconnect();
    await cosmos?.close();
  });

  it('Redis: a rejected command is fatal, a busy cluster or an unreachable server is retried', async () => {
    // Prepare: a real WRONGTYPE reply from the run's redis-server, and a real refused connection.
    const key = `classify:${Date.now()}`;
    await redis.set(key, 'text', 'EX', 60);
    const wrongType = await failureOf(() => redis.hgetall(key));
    const offline = new Redis({ host: '127.0.0.1', port: await closedPort(), maxRetriesPerRequest: 0 });
    const connectErrors: unknown[] = [];
    offline.on('error', (error: unknown) => connectErrors.push(error));
    const refused = await failureOf(() => offline.get(key));
    offline.disconnect();
    // Assess
    expect(wrongType).toBeInstanceOf(ReplyError);
    expect(classify(wrongType)).toBe('fatal');
    expect(classify(new RedisCommandError('HGETALL', wrongType))).toBe('fatal');
    expect(classify(new ReplyError('LOADING Redis is loading the dataset in memory'))).toBe('retry');
    expect(classify(new ReplyError('CLUSTERDOWN The cluster is down'))).toBe('retry');
    expect((refused as Error).name).toBe('MaxRetriesPerRequestError');
    expect(classify(refused)).toBe('retry');
    expect((connectErrors[0] as { code?: string }).code).toBe('ECONNREFUSED');
    expect(classify(connectErrors[0])).toBe('retry');
    expect(classify(new RedisUnavailableError('GET', refused))).toBe('retry');
    expect(classify(new JournalOverflowError('call-1', 'flush', 512, 1_000_000))).toBe('retry');
    expect(classify(new StateLostError('call-1', 'flush'))).toBe('fatal');
    expect(classify(await failureOf(() => assertValidIdentifier('bad{id}')))).toBe('fatal');
    expect(await failureOf(() => assertValidIdentifier('bad{id}'))).toBeInstanceOf(InvalidIdentifierError);
  });

  it('Cosmos DB: a conflict or a missing container is fatal, throttling is retried, raw or as an archive error', async () => {
    // Prepare: real ErrorResponses from the embedded Cosmos server through the real SDK.
    const client = await createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, database: 'classify', auditTtlDays: 30 });
    try {
      const { database } = await client.databases.createIfNotExists({ id: 'classify' });
      const { container } = await database.containers.createIfNotExists({ id: 'items', partitionKey: { paths: ['/id'] } });
      await container.items.create({ id: 'one' });
      const conflict = await failureOf(() => container.items.create({ id: 'one' }));
      const missing = await failureOf(() => database.container('absent').items.create({ id: 'x' }));
      // Assess
      expect((conflict as { code?: unknown }).code).toBe(409);
      expect(classify(conflict)).toBe('fatal');
      expect(classify(toArchiveError('transcripts.upsertPage', conflict))).toBe('fatal');
      expect((missing as { code?: unknown }).code).toBe(404);
      expect(classify(missing)).toBe('fatal');
      const throttled = Object.assign(new Error('Request rate is large'), { code: 429, retryAfterInMs: 20 });
      expect(classify(throttled)).toBe('retry');
      expect(classify(toArchiveError('transcripts.upsertPage', throttled))).toBe('retry');
      expect(classify(new InvalidArchiveInputError('profiles.update', 'raw phone number'))).toBe('fatal');
      expect(classify(new TranscriptIntegrityError('call-1', 'pages missing'))).toBe('retry');
    } finally {
      client.dispose();
    }
  });

  it('ACS (RestError): 404/410 mean the call is gone, call-state races and 5xx are retried, refused roles are fatal', () => {
    const status = (statusCode: number, code: string) => new RestError(`refused (${code})`, { statusCode, code });
    expect(classify(status(404, '8522'))).toBe('gone');
    expect(classify(status(410, 'Gone'))).toBe('gone');
    expect(classify(status(400, '8501'))).toBe('retry');
    expect(classify(status(503, 'ServiceUnavailable'))).toBe('retry');
    expect(classify(status(429, 'TooManyRequests'))).toBe('retry');
    expect(classify(status(403, 'Forbidden'))).toBe('fatal');
    expect(classify(new CallGoneError('the call has ended'))).toBe('gone');
  });

  it('transport, timeouts, aborts and programming errors', async () => {
    const fetchRefused = await failureOf(async () => fetch(`http://127.0.0.1:${await closedPort()}/`));
    const timedOut = await failureOf(() => fetch('http://10.255.255.1/', { signal: AbortSignal.timeout(1) }));
    const aborted = await failureOf(() => fetch('http://10.255.255.1/', { signal: AbortSignal.abort() }));
    const invalid = z.object({ callId: z.string() }).safeParse({}).error;
    // fetch's TypeError says nothing itself; its cause (ECONNREFUSED) decides.
    expect(classify(fetchRefused)).toBe('retry');
    expect((timedOut as Error).name).toBe('TimeoutError');
    expect(classify(timedOut)).toBe('retry');
    expect((aborted as Error).name).toBe('AbortError');
    expect(classify(aborted)).toBe('fatal');
    expect(classify(invalid)).toBe('fatal');
    expect(classify(new TypeError('x is not a function'))).toBe('fatal');
    // Nothing known about it: retried, as every failure was before the classifier (the retries are bounded).
    expect(classify(new Error('something odd'))).toBe('retry');
    expect(classify('a string')).toBe('retry');
  });

  it('agents, realtime, relay, lifecycle, media and config errors follow their retryable flag', async () => {
    expect(classify(connectError(new Error('Unexpected server response: 401')))).toBe('fatal');
    expect(classify(connectError(new Error('Unexpected server response: 503')))).toBe('retry');
    expect(classify(connectError(new Error('connect ECONNREFUSED')))).toBe('retry');
    expect(classify(new AgentError('rate limited', { code: 'rate_limited', retryable: true, status: 429 }))).toBe('retry');
    expect(classify(new ToolError('no answer in time', 'crm', 'timeout'))).toBe('retry');
    expect(classify(new ToolError('not JSON', 'crm', 'bad_response'))).toBe('fatal');
    expect(classify(new RelayError('could not connect', true))).toBe('retry');
    expect(classify(new CallActionError('no callConnectionId', false))).toBe('fatal');
    expect(classify(new LifecycleStepFailedError('archiveTranscript', { cause: new Error('x'), attempts: 5 }))).toBe('fatal');
    const frame = await failureOf(() => parseMediaFrame('{"kind":"AudioData","audioData":{"data":"@@@"}}'));
    expect(frame).toBeInstanceOf(MediaFrameError);
    expect(classify(frame)).toBe('fatal');
    const config = await failureOf(() => loadConfig({ REDIS_PORT: 'not-a-port' }));
    expect(config).toBeInstanceOf(ConfigError);
    expect(classify(config)).toBe('fatal');
  });
});
