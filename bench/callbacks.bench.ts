import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { CallAutomationClient } from '@azure/communication-call-automation';
import { CosmosClient } from '@azure/cosmos';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { builtInResponder } from '../src/lib/agents/built-in.js';
import { DEFAULT_ARCHIVE_RETRY, ProfileRepository, type Archive } from '../src/lib/archive/index.js';
import { callbackUrlFor } from '../src/lib/acs/callback-auth.js';
import { handleCallEvents } from '../src/lib/calls/call-events.js';
import { createCallbackAuthenticator } from '../src/lib/acs/callback-auth.js';
import { AcsClient } from '../src/lib/acs/client.js';
import type { WebhookRequest } from '../src/lib/calls/http.js';
import type { CallControlDeps, LifecyclePort } from '../src/lib/calls/ports.js';
import { callIdForIncoming } from '../src/lib/calls/session.js';
import { auditPort, profilePort } from '../src/lib/calls/wiring.js';
import { loadConfig, type AppConfig } from '../src/lib/config/index.js';
import { RedisKeys } from '../src/lib/state/keys.js';
import { createRedis, type ManagedRedis } from '../src/lib/state/redis-client.js';
import { CallSessions, SessionStore, TurnFencing } from '../src/lib/state/index.js';
import { consoleLogger } from '../src/lib/telemetry/logger.js';
import { RedisServer } from '../test/support/redis-server.js';
import { baseEnv } from '../test/support/env.js';
import { LatencyRecorder, printTable, round } from './lib.js';

/**
 * `npm run bench -- callbacks [--calls 50] [--turns 10] [--interval-ms 1000] [--waves 3] [--loads serial,open,closed]`
 *
 * Latency of the ACS callback handler (`handleCallEvents`, called in-process: no HTTP server in front
 * of it, so the emulator's network is excluded) for CallConnected (greeting) and RecognizeCompleted
 * (a conversation turn) with 50 calls live at once. Everything the handler does is real:
 * - each request is signed as ACS signs it: an RS256 JWT checked against a JWKS endpoint (fetched once,
 *   then cached, as in production) and the call's HMAC-signed callback URL;
 * - session, de-duplication claim, conversation and profile cache on a private redis-server;
 * - the offline agent;
 * - the Call Automation SDK (HMAC request signing included) against a local ACS stand-in running in a
 *   worker thread that answers every media operation with 202 at once (its CPU is not on our loop).
 * Returning callers are used, so the profile lookup is the Redis cache hit; a new caller's miss is a
 * Cosmos DB point read (network, excluded here).
 *
 * Three loads: serial (one call, events back to back: the floor, nothing to queue behind), open loop
 * (each of the 50 calls sends its next event every `interval-ms` at its own phase: the realistic shape,
 * and the one the budget is judged on) and closed loop (50 calls sending events back to back:
 * saturation, where latency is mostly queueing behind the other 49 handlers).
 * Budget (docs/performance.md): callback handler p99 ≤ 5 ms excluding network.
 *
 * Each load also reports the scavenges (young-generation collections) it saw, their pauses and the
 * full collections, and the result records the NODE_OPTIONS and node flags of the run, so runs with
 * different young generations can be compared (bench/results/callbacks-young-generation.json).
 * BENCH_TURN_BUDGET_MS overrides TURN_BUDGET_MS (how long each turn's timeout signals live).
 */

const BUDGET_P99_MS = 5;
const QUESTIONS = [
  'What are your opening hours?',
  'Where is my order?',
  'I have a question about my bill',
  'How do I change my address?',
  'I forgot my password',
  'Are you open on the weekend?',
];

interface Harness {
  readonly deps: CallControlDeps;
  readonly config: AppConfig;
  readonly redis: ManagedRedis['client'];
  readonly keys: RedisKeys;
  readonly sign: () => Promise<string>;
  /** Where the SDK's request timings go; each load has its own. */
  acsRecorder: LatencyRecorder;
  readonly lifecycleCalls: { count: number };
  readonly profileLookups: { found: number; missing: number };
}

interface SimCall {
  readonly callId: string;
  readonly callConnectionId: string;
  readonly serverCallId: string;
  readonly correlationId: string;
  readonly url: string;
  /** One ACS token per event, signed before the load starts (signing is ACS's work, not ours). */
  readonly tokens: string[];
  turn: number;
}

interface LoadResult {
  readonly load: string;
  readonly connected: LatencyRecorder;
  readonly recognized: LatencyRecorder;
  readonly acs: LatencyRecorder;
  failures: number;
  loopDelayP99Ms: number;
  cpuMsPerEvent: number;
  loadAverage1m: number;
  cpuMicros: number;
  /** Young-generation collections (scavenges) during the load, and their pauses. */
  readonly scavenges: LatencyRecorder;
  /** Full (mark-compact) collections during the load. */
  fullGcs: number;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      calls: { type: 'string', default: '50' },
      turns: { type: 'string', default: '10' },
      'interval-ms': { type: 'string', default: '1000' },
      waves: { type: 'string', default: '3' },
      loads: { type: 'string', default: 'serial,open,closed' },
    },
  });
  const calls = Number(values.calls);
  const turns = Number(values.turns);
  const intervalMs = Number(values['interval-ms']);
  // Each wave is a fresh set of calls (a call connects once): more CallConnected samples for the p99.
  const waves = Number(values.waves);
  // One load alone is what a profiler should see (`--loads open` under `node --cpu-prof`).
  const selected = new Set(values.loads.split(',').map((l) => l.trim()));
  const unknown = [...selected].filter((l) => !['serial', 'open', 'closed'].includes(l));
  if (unknown.length > 0 || selected.size === 0) throw new Error(`--loads takes serial, open and/or closed, not ${unknown.join(', ') || 'nothing'}`);

  const redisServer = await RedisServer.start();
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const acs = await startInstantAcs({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
  let redis: ManagedRedis | undefined;
  try {
    const issuer = acs.baseUrl;
    const audience = randomUUID();
    const config = loadConfig(
      baseEnv({
        APP_ENV: 'dev',
        LOG_LEVEL: 'error',
        REDIS_HOST: redisServer.host,
        REDIS_PORT: String(redisServer.port),
        REDIS_KEY_PREFIX: `bench${randomBytes(3).toString('hex')}`,
        ACS_CONNECTION_STRING: `endpoint=${acs.baseUrl}/;accesskey=${randomBytes(32).toString('base64')}`,
        ACS_CALLBACK_BASE_URL: 'https://rtvoice.example.net',
        ACS_CALLBACK_AUTH: 'jwt+signature',
        ACS_CALLBACK_SIGNING_KEY: randomBytes(32).toString('base64url'),
        ACS_JWT_ISSUER: issuer,
        ACS_JWT_AUDIENCE: audience,
        ACS_JWKS_URL: `${acs.baseUrl}/calling/keys`,
        COGNITIVE_SERVICES_ENDPOINT: 'https://ai-services.invalid',
        TRANSFER_TARGET_NUMBER: '+15550100999',
        AGENT_MODE: 'offline',
        // The default unless BENCH_TURN_BUDGET_MS says otherwise: how long the turn's timeout signals live.
        ...(process.env.BENCH_TURN_BUDGET_MS ? { TURN_BUDGET_MS: process.env.BENCH_TURN_BUDGET_MS } : {}),
      }),
    );
    redis = await createRedis(config.redis, { connectionName: 'bench-callbacks' });
    await redis.ready();
    const harness = buildHarness(config, redis, acs.baseUrl, { issuer, audience, kid, privateKey });

    console.log(`callbacks: ${calls} concurrent calls, ${turns} turns each, ${waves} waves; serial, open loop (one event per call every ${intervalMs} ms), closed loop\n`);
    // Warm-up: JIT (long enough for the optimizing compiler), the JWKS fetch, connections to Redis and the ACS stand-in.
    for (let i = 0; i < 4; i += 1) await closedLoop(harness, await seedCalls(harness, calls, 5, 'warm'), 5, 'warm-up');

    // The floor: one call at a time, nothing to queue behind.
    const loads: LoadResult[] = [];
    if (selected.has('serial')) {
      const serial = newResult(harness, 'serial');
      for (let i = 0; i < calls; i += 1) await closedLoop(harness, await seedCalls(harness, 1, 5, 'serial'), 5, 'serial', serial);
      loads.push(serial);
    }
    const open = newResult(harness, 'open');
    if (selected.has('open')) {
      for (let w = 0; w < waves; w += 1) await openLoop(harness, await seedCalls(harness, calls, turns, 'open'), turns, intervalMs, open);
      loads.push(open);
    }
    if (selected.has('closed')) {
      const closed = newResult(harness, 'closed');
      for (let w = 0; w < waves; w += 1) await closedLoop(harness, await seedCalls(harness, calls, turns, 'closed'), turns, 'closed', closed);
      loads.push(closed);
    }

    const rows = loads.flatMap((r) => [row(r, 'CallConnected', r.connected), row(r, 'RecognizeCompleted', r.recognized)]);
    printTable(rows);
    console.log('');
    printTable(loads.map(loadRow));
    const openP99 = Math.max(open.connected.summary().p99Ms, open.recognized.summary().p99Ms);
    const budget = selected.has('open') ? { value: openP99, budget: `open-loop p99 <= ${BUDGET_P99_MS} ms (CallConnected and RecognizeCompleted)`, pass: openP99 <= BUDGET_P99_MS } : undefined;
    if (budget) console.log(`\nbudget: ${budget.budget}: ${budget.value} ms -> ${budget.pass ? 'PASS' : 'FAIL'}`);
    console.log('(acsP50/acsP99: the SDK request to the instant ACS stand-in, part of the handler time; processCpuMsPerEvent: all threads, GC and JIT included; loopDelayP99Ms and loadAvg1m: how busy the machine was)');

    const failures = loads.reduce((n, r) => n + r.failures, 0);
    if (failures > 0) console.log(`WARNING: ${failures} handler responses were not 200 { handled: 1 }`);
    if (harness.profileLookups.missing > 0) console.log(`WARNING: ${harness.profileLookups.missing} greetings did not find the caller's cached profile`);
    return {
      parameters: {
        calls,
        turns,
        intervalMs,
        waves,
        loads: [...selected],
        callbackAuth: config.acs.callbackAuth,
        agent: 'offline',
        profile: 'returning caller, Redis cache hit',
        // The young generation the process ran with (`npm run bench` sets --max-semi-space-size=32).
        nodeOptions: process.env.NODE_OPTIONS ?? '',
        // Node flags given on the command line (tsx's own loader flags left out).
        execArgv: process.execArgv.filter((arg, i, all) => !arg.includes('tsx') && !all[i + 1]?.includes('tsx')),
        turnBudgetMs: config.limits.turnBudgetMs,
        newSpaceMaxMiB: round((getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 2 ** 20, 1),
      },
      rows,
      loads: loads.map(loadRow),
      lifecycleCalls: harness.lifecycleCalls.count,
      profileLookups: harness.profileLookups,
      failures,
      budgets: budget ? { callbackHandlerP99Ms: budget } : {},
    };
  } finally {
    await redis?.close();
    await acs.close();
    await redisServer.dispose();
  }
}

function row(result: LoadResult, event: string, recorder: LatencyRecorder): Record<string, unknown> {
  const s = recorder.summary();
  return { load: result.load, event, count: s.count, p50Ms: s.p50Ms, p95Ms: s.p95Ms, p99Ms: s.p99Ms, maxMs: s.maxMs, meanMs: s.meanMs };
}

function loadRow(result: LoadResult): Record<string, unknown> {
  const acs = result.acs.summary();
  return {
    load: result.load,
    acsP50Ms: acs.p50Ms,
    acsP99Ms: acs.p99Ms,
    processCpuMsPerEvent: result.cpuMsPerEvent,
    loopDelayP99Ms: result.loopDelayP99Ms,
    loadAvg1m: result.loadAverage1m,
    failures: result.failures,
    ...gcRow(result),
  };
}

/** Scavenges per handled event and their pauses: what sets the handler's tail when allocation is high. */
function gcRow(result: LoadResult): Record<string, number> {
  const pauses = result.scavenges.summary();
  const events = Math.max(1, result.connected.count + result.recognized.count);
  return { scavenges: pauses.count, scavengesPer100Events: round((100 * pauses.count) / events, 2), scavengeP50Ms: pauses.p50Ms, scavengeMaxMs: pauses.maxMs, scavengeTotalMs: round(pauses.count * pauses.meanMs, 1), fullGcs: result.fullGcs };
}

function buildHarness(
  config: AppConfig,
  redis: ManagedRedis,
  acsBaseUrl: string,
  jwt: { issuer: string; audience: string; kid: string; privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'] },
): Harness {
  const logger = consoleLogger('error', { component: 'bench-callbacks' });
  const keys = new RedisKeys(config.keyPrefix, config.env);
  const store = new SessionStore(redis.client, keys, { logger });
  const lifecycleCalls = { count: 0 };
  const profileLookups = { found: 0, missing: 0 };
  const harness: Harness = {
    config,
    redis: redis.client,
    keys,
    acsRecorder: new LatencyRecorder(),
    lifecycleCalls,
    profileLookups,
    sign: () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: jwt.kid, typ: 'JWT' })
        .setIssuer(jwt.issuer)
        .setAudience(jwt.audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(jwt.privateKey),
    deps: undefined as unknown as CallControlDeps,
  };
  // Times the SDK's exchange with the ACS stand-in (signing, pipeline, loopback HTTP), to show how much of the handler it is.
  const timing: PipelinePolicy = {
    name: 'benchAcsTiming',
    async sendRequest(request, next) {
      const started = performance.now();
      try {
        return await next(request);
      } finally {
        harness.acsRecorder.recordMs(performance.now() - started);
      }
    },
  };
  const client = new CallAutomationClient(config.acs.connectionString!, { allowInsecureConnection: acsBaseUrl.startsWith('http://'), additionalPolicies: [{ policy: timing, position: 'perCall' }] });
  const acs = new AcsClient(client);
  // Profiles are read through their Redis cache; the Cosmos container behind it is never reached
  // (returning callers are seeded into the cache), so its client points nowhere.
  const nowhere = new CosmosClient({ endpoint: 'https://127.0.0.1:9', key: randomBytes(64).toString('base64') });
  const profiles = new ProfileRepository(nowhere.database('rtvoice').container('profiles'), { cache: redis.client, keys, logger, retry: DEFAULT_ARCHIVE_RETRY });
  const archive = { profiles } as unknown as Archive;
  // CallConnected and RecognizeCompleted never touch the lifecycle; the count proves it.
  const lifecycle: LifecyclePort = {
    async start() {
      lifecycleCalls.count += 1;
    },
    async callDisconnected() {
      lifecycleCalls.count += 1;
    },
  };
  // Counted, because greet() swallows a failed lookup: every greeting must have found its caller in the cache.
  const cached = profilePort(async () => archive, config.archive.userIdSalt);
  const profilesPort: CallControlDeps['profiles'] = {
    userIdFor: (phone) => cached.userIdFor(phone),
    async lookup(userId) {
      const profile = await cached.lookup(userId);
      if (profile) profileLookups.found += 1;
      else profileLookups.missing += 1;
      return profile;
    },
  };
  (harness as { deps: CallControlDeps }).deps = {
    config,
    store,
    sessions: new CallSessions(store),
    fencing: new TurnFencing(store, logger),
    acs: () => Promise.resolve(acs),
    agent: builtInResponder({ transferTargetNumber: config.acs.transferTargetNumber, lookupProfile: (id) => profilesPort.lookup(id), logger }),
    lifecycle,
    audit: auditPort(async () => archive),
    profiles: profilesPort,
    logger,
    callbackAuth: createCallbackAuthenticator(config.acs),
  };
  return harness;
}

/** Answered calls as the IncomingCall handler leaves them: session in Redis, profile cached (returning caller). */
async function seedCalls(h: Harness, count: number, turns: number, label: string): Promise<SimCall[]> {
  const calls: SimCall[] = [];
  for (let i = 0; i < count; i += 1) {
    const serverCallId = Buffer.from(`bench:${label}:${i}:${randomUUID()}`).toString('base64url');
    const callId = callIdForIncoming(serverCallId);
    const callConnectionId = randomUUID();
    const correlationId = randomUUID();
    const phone = `+1555${String(2000000 + i).padStart(7, '0')}`;
    const callerUserId = h.deps.profiles.userIdFor(phone);
    await h.deps.sessions.create(callId, {
      state: 'answered',
      direction: 'inbound',
      startedAt: new Date().toISOString(),
      serverCallId,
      correlationId,
      callerUserId,
      callerMasked: '+1•••••0000',
      participantRawId: `4:${phone}`,
      callConnectionId,
    });
    const profile = { userId: callerUserId, displayName: `Caller ${i}`, callCount: 3, recentCallIds: [], updatedAt: new Date().toISOString() };
    await h.redis.set(h.keys.profile(callerUserId), JSON.stringify(profile), 'EX', h.keys.ttl('profile', 'cache'));
    const url = callbackUrlFor(h.config.acs.callbackBaseUrl!, callId, h.config.acs.callbackSigningKey!, { ttlSeconds: 7200 });
    const tokens = await Promise.all(Array.from({ length: turns + 1 }, () => h.sign()));
    calls.push({ callId, callConnectionId, serverCallId, correlationId, url, tokens, turn: 0 });
  }
  return calls;
}

function eventOf(call: SimCall): Record<string, unknown> {
  const ids = { callConnectionId: call.callConnectionId, serverCallId: call.serverCallId, correlationId: call.correlationId };
  const path = `calling/callConnections/${call.callConnectionId}`;
  const envelope = { id: randomUUID(), source: path, subject: path, time: new Date().toISOString(), specversion: '1.0', datacontenttype: 'application/json' };
  if (call.turn === 0) {
    return { ...envelope, type: 'Microsoft.Communication.CallConnected', data: { ...ids, operationContext: call.callId, resultInformation: { code: 200, subCode: 0, message: 'ok' } } };
  }
  return {
    ...envelope,
    type: 'Microsoft.Communication.RecognizeCompleted',
    data: {
      ...ids,
      operationContext: call.turn === 1 ? 'greeting' : 'turn',
      resultInformation: { code: 200, subCode: 8533, message: 'Action completed, Recognition completed.' },
      recognitionType: 'speech',
      speechResult: { speech: QUESTIONS[(call.turn - 1) % QUESTIONS.length], confidence: 0.95 },
    },
  };
}

/** What the Functions host hands the handler: method, URL, headers and the body text (already received). */
function requestOf(url: string, token: string, body: string): WebhookRequest {
  const headers = new Map([
    ['authorization', `Bearer ${token}`],
    ['content-type', 'application/json'],
  ]);
  return { method: 'POST', url, headers: { get: (name) => headers.get(name.toLowerCase()) ?? null }, text: () => Promise.resolve(body) };
}

function newResult(h: Harness, load: string): LoadResult {
  return {
    load,
    connected: new LatencyRecorder(),
    recognized: new LatencyRecorder(),
    acs: new LatencyRecorder(),
    failures: 0,
    loopDelayP99Ms: 0,
    cpuMsPerEvent: 0,
    loadAverage1m: 0,
    cpuMicros: 0,
    scavenges: new LatencyRecorder(),
    fullGcs: 0,
  };
}

/**
 * Runs a load (or one more wave of it) and adds what the machine did meanwhile: the event loop's delay,
 * the process's CPU time per event (every thread: GC and JIT included), the load average.
 */
async function measured(h: Harness, result: LoadResult, body: () => Promise<void>): Promise<LoadResult> {
  h.acsRecorder = result.acs;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) recordGc(result, entry);
  });
  gc.observe({ entryTypes: ['gc'] });
  const cpuBefore = process.cpuUsage();
  await body();
  const cpu = process.cpuUsage(cpuBefore);
  loopDelay.disable();
  for (const entry of gc.takeRecords()) recordGc(result, entry);
  gc.disconnect();
  result.cpuMicros += cpu.user + cpu.system;
  const events = result.connected.count + result.recognized.count;
  result.cpuMsPerEvent = round(result.cpuMicros / 1000 / Math.max(1, events));
  result.loopDelayP99Ms = Math.max(result.loopDelayP99Ms, round(loopDelay.percentile(99) / 1e6));
  result.loadAverage1m = round(loadavg()[0] ?? 0, 2);
  return result;
}

function recordGc(result: LoadResult, entry: PerformanceEntry): void {
  const kind = (entry as PerformanceEntry & { readonly detail?: { readonly kind?: number } }).detail?.kind;
  if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) result.scavenges.recordMs(entry.duration);
  else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) result.fullGcs += 1;
}

/** One callback of one call: only `handleCallEvents` is inside the measurement. */
async function deliver(h: Harness, call: SimCall, result: LoadResult): Promise<void> {
  const request = requestOf(call.url, call.tokens[call.turn]!, JSON.stringify([eventOf(call)]));
  const started = performance.now();
  const response = await handleCallEvents(request, h.deps);
  const elapsedMs = performance.now() - started;
  (call.turn === 0 ? result.connected : result.recognized).recordMs(elapsedMs);
  if (response.status !== 200 || (response.jsonBody as { handled?: number } | undefined)?.handled !== 1) result.failures += 1;
  call.turn += 1;
}

async function closedLoop(h: Harness, calls: SimCall[], turns: number, load: string, result: LoadResult = newResult(h, load)): Promise<LoadResult> {
  return measured(h, result, async () => {
    await Promise.all(
      calls.map(async (call) => {
        while (call.turn <= turns) await deliver(h, call, result);
      }),
    );
  });
}

async function openLoop(h: Harness, calls: SimCall[], turns: number, intervalMs: number, result: LoadResult): Promise<LoadResult> {
  return measured(h, result, async () => {
    const startedAt = performance.now();
    await Promise.all(
      calls.map(async (call, index) => {
        // A fixed phase per call, spread over the interval (deterministic: the same run every time).
        const phaseMs = (intervalMs * index) / calls.length + phaseJitter(call.callId, intervalMs / calls.length);
        for (let event = 0; event <= turns; event += 1) {
          const wait = startedAt + phaseMs + event * intervalMs - performance.now();
          if (wait > 0) await sleep(wait);
          await deliver(h, call, result);
        }
      }),
    );
  });
}

function phaseJitter(seed: string, spreadMs: number): number {
  return (createHash('sha256').update(seed).digest().readUInt16BE(0) / 65535) * spreadMs;
}

/**
 * The ACS stand-in: a separate Node process (its CPU is not ours) serving the JWKS and answering every
 * Call Automation REST request with 202 at once (no HMAC check, no callbacks): only what the handler
 * waits for.
 */
async function startInstantAcs(jwk: Record<string, unknown>): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const source = `
    const { createServer } = require('node:http');
    const jwks = JSON.stringify({ keys: [JSON.parse(process.env.BENCH_JWK)] });
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'GET' && req.url.startsWith('/calling/keys')) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(jwks) }).end(jwks);
        } else {
          res.writeHead(202, { 'content-length': '0' }).end();
        }
      });
    });
    server.keepAliveTimeout = 60000;
    server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
    process.stdin.on('end', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
    process.stdin.resume();
  `;
  const child = spawn(process.execPath, ['-e', source], { env: { ...process.env, BENCH_JWK: JSON.stringify(jwk) }, stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the ACS stand-in exited (${code})`)));
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await exited;
    },
  };
}
