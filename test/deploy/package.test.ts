import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAcsEmulator, type AcsEmulator } from '../../emulators/acs/index.js';
import { startEmbeddedCosmos, type EmbeddedCosmos } from '../../emulators/cosmos/index.js';
import { installFunctionsCore, registeredFunctions } from '../../emulators/functions-host/registry.js';
import { openArchive } from '../../src/lib/archive/index.js';
import { callIdForIncoming } from '../../src/lib/calls/session.js';
import { loadConfig } from '../../src/lib/config/index.js';
import { createRedis } from '../../src/lib/state/redis-client.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';
import { azdIgnores, coreToolsIgnores } from '../../tools/funcignore.js';
import { buildPackage, listFiles, type PackageResult } from '../../tools/package.js';

/**
 * `npm run package` end to end: build, stage, zip; the zip extracted to a temporary folder holds only
 * what the Functions host loads, .funcignore means the same tree to azd and to Core Tools, and the
 * extracted app — resolving nothing but its own production node_modules — registers every function,
 * answers /api/health and carries a scripted call through to its archive.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const funcignore = readFileSync(join(ROOT, '.funcignore'), 'utf8');
const azd = azdIgnores(funcignore);
const coreTools = coreToolsIgnores(funcignore);

let out: string;
let result: PackageResult;
let extracted: string;
let extractedFiles: string[];
const timings: Record<string, number> = {};

async function timed<T>(name: string, run: () => T | Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await run();
  } finally {
    timings[name] = Math.round(performance.now() - started);
  }
}

beforeAll(async () => {
  await timed('build', () => execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' }));
  out = mkdtempSync(join(tmpdir(), 'rtvoice-package-'));
  result = await timed('package', () => buildPackage(ROOT, join(out, 'package')));
  extracted = join(out, 'extracted');
  await timed('extract', () => {
    for (const [name, data] of Object.entries(unzipSync(readFileSync(result.zipPath)))) {
      if (name.endsWith('/')) continue;
      mkdirSync(dirname(join(extracted, name)), { recursive: true });
      writeFileSync(join(extracted, name), data);
    }
  });
  extractedFiles = listFiles(extracted);
  console.log(
    `package: ${result.files} files, ${(result.bytes / 1048576).toFixed(1)} MiB unpacked, ${(result.zipBytes / 1048576).toFixed(1)} MiB zipped; ms ${JSON.stringify(timings)}`,
  );
}, 300_000);

// Two copies of some 21,000 files: removing them can take a while on a busy machine.
afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
}, 180_000);

describe('npm run package', () => {
  it('ships dist/, host.json, package.json, the agent definitions and the production node_modules, nothing else', () => {
    const top = new Set(extractedFiles.map((f) => f.split('/')[0]));
    expect([...top].sort()).toEqual(['agents', 'dist', 'host.json', 'node_modules', 'package.json']);
    // The agent definitions the app loads at start travel with it.
    expect(extractedFiles).toContain('agents/routing.yaml');
    expect(extractedFiles).toHaveLength(result.files);
    expect(extractedFiles.filter((f) => f.startsWith('dist/') && !f.startsWith('dist/src/'))).toEqual([]);
    const functionFiles = readdirSync(join(ROOT, 'src', 'functions')).filter((f) => f.endsWith('.ts'));
    expect(extractedFiles.filter((f) => f.startsWith('dist/src/functions/') && f.endsWith('.js')).length).toBe(functionFiles.length);
    const pkg = JSON.parse(readFileSync(join(extracted, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).not.toHaveProperty('devDependencies');
    expect(pkg).not.toHaveProperty('scripts');
    expect(pkg.main).toBe('dist/src/functions/*.js');
    // No development tool came along (each is a devDependency and no production module needs it).
    for (const dev of ['vitest', 'typescript', 'tsx', 'eslint', '@vercel/cosmosdb-server', 'fflate', 'ignore']) {
      expect(extractedFiles.some((f) => f.startsWith(`node_modules/${dev}/`)), dev).toBe(false);
    }
    // The production modules the unanchored patterns used to drop are there.
    for (const needed of [
      'node_modules/durable-functions/lib/src/index.js',
      'node_modules/debug/src/index.js',
      'node_modules/ecdsa-sig-formatter/src/ecdsa-sig-formatter.js',
    ]) {
      expect(extractedFiles, needed).toContain(needed);
    }
    expect(extractedFiles.some((f) => /^node_modules\/@azure\/communication-call-automation\/.*\/generated\/src\//.test(f))).toBe(true);
  });

  it('reads .funcignore the same under azd and Core Tools, in the package and at the project root', () => {
    // The staged tree: everything a production module needs is kept by both.
    const staged = listFiles(result.stageDir).filter((f) => f !== '.funcignore');
    expect(staged.filter((f) => azd(f) || coreTools(f))).toEqual([]);
    // The project root (the tree `func azure functionapp publish` would zip if run there): both drop the
    // same files, and neither drops a file of a production dependency.
    const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
    const candidates = [...tracked, ...staged.filter((f) => f.startsWith('node_modules/')), 'dist/src/functions/health.js', 'local.settings.json'];
    expect(candidates.filter((f) => azd(f) !== coreTools(f))).toEqual([]);
    expect(candidates.filter((f) => f.startsWith('node_modules/') && azd(f))).toEqual([]);
    for (const dropped of ['src/functions/health.ts', 'test/deploy/package.test.ts', 'emulators/cli.ts', 'infra/main.bicep', 'local.settings.json']) {
      expect([dropped, azd(dropped), coreTools(dropped)]).toEqual([dropped, true, true]);
    }
  });

  it('is what azd deploys: azure.yaml zips the staged folder, built by the prepackage hook, without a remote build', () => {
    const azureYaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');
    // Every Function App service (the app and the relay app) deploys the same staged package.
    const services = azureYaml.match(/^ {4}host: function$/gm)?.length ?? 0;
    expect(services).toBeGreaterThan(0);
    expect(azureYaml.match(/^ {4}dist: \.package\/app$/gm)).toHaveLength(services);
    expect(azureYaml.match(/^ {4}remoteBuild: false$/gm)).toHaveLength(services);
    expect(azureYaml.match(/^ {10}run: npm run package$/gm)).toHaveLength(2 * services);
    expect(result.stageDir).toBe(join(out, 'package', 'app'));
  });

  it('would have caught the unanchored .funcignore that dropped the entry points under azd', () => {
    const old = ['test', 'src', '*.ts', '!dist/**', 'tsconfig*.json'].join('\n');
    const [oldAzd, oldCore] = [azdIgnores(old), coreToolsIgnores(old)];
    const entry = 'node_modules/durable-functions/lib/src/index.js';
    expect(oldAzd(entry)).toBe(true);
    expect(oldCore(entry)).toBe(false);
    expect(oldAzd('node_modules/debug/src/index.js')).toBe(true);
    // `*` is "one or more characters" to Core Tools: tsconfig*.json misses tsconfig.json there.
    expect([oldAzd('tsconfig.json'), oldCore('tsconfig.json')]).toEqual([true, false]);
  });
});

describe('the extracted package on the dev host, with production dependencies only', () => {
  let child: ChildProcess | undefined;
  let acs: AcsEmulator;
  let cosmos: EmbeddedCosmos;
  let host: { baseUrl: string; functionKey: string; served: Record<string, string[]> };
  const env: Record<string, string> = {};

  beforeAll(async () => {
    cosmos = await startEmbeddedCosmos();
    acs = await startAcsEmulator({ speechMsPerChar: 2, logger: consoleLogger('error', { component: 'package-test' }) });
    Object.assign(env, {
      APP_ENV: 'dev',
      LOG_LEVEL: 'error',
      REDIS_KEY_PREFIX: `pkg${randomBytes(3).toString('hex')}`,
      REDIS_HOST: inject('redisHost'),
      REDIS_PORT: String(inject('redisPort')),
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: 'rtvoice',
      ACS_CONNECTION_STRING: acs.connectionString,
      ACS_CALLBACK_AUTH: 'jwt+signature',
      ACS_CALLBACK_SIGNING_KEY: randomBytes(32).toString('base64url'),
      USER_ID_SALT: randomBytes(32).toString('base64url'),
      ACS_JWT_ISSUER: acs.jwt.issuer,
      ACS_JWT_AUDIENCE: acs.jwt.audience,
      ACS_JWKS_URL: acs.jwt.jwksUrl,
      COGNITIVE_SERVICES_ENDPOINT: 'https://ai-services.invalid',
      AGENT_MODE: 'offline',
      MEDIA_MODE: 'off',
    });
    // Only PATH and the app's settings: nothing of this process's environment (NODE_PATH included) leaks in.
    // The host is development tooling run with tsx from this repository; the app it loads is the package.
    const tsx = pathToFileURL(createRequire(join(ROOT, 'package.json')).resolve('tsx')).href;
    child = spawn(process.execPath, ['--import', tsx, join(ROOT, 'test/deploy/package-host.ts')], {
      cwd: extracted,
      env: { PATH: process.env.PATH ?? '', RTVOICE_APP_DIR: extracted, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child!.stdout! });
      lines.once('line', resolve);
      child!.once('exit', (code) => reject(new Error(`package host exited with ${code}`)));
    });
    host = JSON.parse(line) as typeof host;
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.stdin?.end();
      await exited;
    }
    await acs?.close();
    await cosmos?.close();
  }, 60_000);

  it('serves every function the source registers', async () => {
    installFunctionsCore();
    const dir = join(ROOT, 'src/functions');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) await import(join(dir, file));
    const expected = registeredFunctions()
      .map((r) => r.metadata.name)
      .sort();
    expect(expected.length).toBeGreaterThanOrEqual(14);
    expect(Object.values(host.served).flat().sort()).toEqual(expected);
  });

  it('answers /api/health and the Event Grid handshake, and carries a scripted call to its archive', async () => {
    const health = await fetch(`${host.baseUrl}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', dependencies: { redis: { status: 'ok' } } });

    const eventGridUrl = `${host.baseUrl}/api/incomingCall?code=${host.functionKey}`;
    expect((await acs.eventGrid.validate(eventGridUrl)).validated).toBe(true);
    const call = await acs.placeCall(
      { from: '+15550107001', to: '+15550100000', steps: [{ waitFor: 'greeting' }, { say: 'What are your opening hours?' }, { say: 'Thanks, goodbye' }] },
      { eventGridUrl },
    );
    expect(call.incomingCallStatus).toBe(200);
    expect(call.operations[0]).toBe('answerCall');
    expect(call.operations.at(-1)).toBe('terminateCall');
    expect(call.heardText.at(-1)).toMatch(/goodbye/i);

    // The lifecycle (a Durable orchestration inside the package) archives the call in Cosmos DB.
    const config = loadConfig({ ...env, ACS_CALLBACK_BASE_URL: host.baseUrl });
    const redis = await createRedis(config.redis, { connectionName: 'package-test' });
    const archive = await openArchive(config, { redis: redis.client });
    try {
      const callId = callIdForIncoming(call.serverCallId);
      const deadline = Date.now() + 20_000;
      let transcript = await archive.transcripts.read(callId);
      while (!transcript && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        transcript = await archive.transcripts.read(callId);
      }
      expect(transcript?.header).toMatchObject({ callId, outcome: 'completed' });
      expect(transcript!.turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(['What are your opening hours?', 'Thanks, goodbye']);
    } finally {
      await archive.close();
      await redis.close();
    }
  }, 60_000);
});
