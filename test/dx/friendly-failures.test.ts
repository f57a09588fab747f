import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './child.js';

const MISSING_REDIS = { REDIS_SERVER_BIN: '/nonexistent/redis-server' };
const scripts = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
const tmp = mkdtempSync(join(tmpdir(), 'rtvoice-dx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** No stack trace: a line starting with "at " is one. */
const stackFrames = (text: string) => text.split('\n').filter((l) => /^\s+at /.test(l));

describe('a missing redis-server', () => {
  it('stops the test run with one line naming the install command, not ENOENT and "No test files found"', async () => {
    const { code, stdout, stderr } = await run('npx', ['vitest', 'run', 'test/unit/keys.test.ts'], MISSING_REDIS);
    expect(code).toBe(1);
    expect(stderr).toContain('The tests need redis-server: /nonexistent/redis-server was not found: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis');
    expect(stdout + stderr).not.toContain('No test files found');
    expect(stdout + stderr).not.toContain('ENOENT');
  }, 60_000);

  it('stops the demo with one line naming the install command', async () => {
    const { code, stderr } = await run('npm', ['run', '--silent', 'demo', '--', '--offline'], MISSING_REDIS);
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^demo: \/nonexistent\/redis-server was not found: install it \(Debian\/Ubuntu: sudo apt-get install redis-server/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  it('stops npm run dev the same way', async () => {
    const { code, stderr } = await run('npm', ['run', '--silent', 'dev', '--', '--redis-port', '0', '--settings', '/dev/null/none'], MISSING_REDIS);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});

describe('--help', () => {
  // Every npm script: ours print their own usage; the others are tools whose --help is their own.
  const own: Record<string, RegExp> = {
    demo: /^usage: npm run demo -- \[options\]/,
    dev: /^usage: npm run dev -- \[options\]/,
    emulators: /^usage: npm run emulators -- \[options\]/,
    bench: /^usage: npm run bench -- <archive\|callbacks\|coldstart\|relay\|state\|wps> \[args\]/,
    start: /^usage: npm start/,
    clean: /^usage: npm run clean/,
  };
  const tools: Record<string, RegExp> = { build: /tsc|Version/i, typecheck: /tsc|Version/i, lint: /eslint \[options\]/, test: /vitest/i };

  // Scripts added later get the same check: --help exits 0 and prints a usage line.
  for (const name of Object.keys(scripts).filter((n) => !(n in own) && !(n in tools) && !n.startsWith('pre') && !n.startsWith('post'))) {
    it(`npm run ${name} -- --help prints a usage and exits 0`, async () => {
      const { code, stdout } = await run('npm', ['run', '--silent', name, '--', '--help'], {}, 90_000);
      expect(code).toBe(0);
      expect(stdout).toMatch(/usage/i);
    }, 120_000);
  }

  for (const [name, usage] of Object.entries(own)) {
    it(`npm run ${name} -- --help prints its usage and exits 0`, async () => {
      const { code, stdout, stderr } = await run('npm', ['run', '--silent', name, '--', '--help']);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toMatch(usage);
      expect(stdout).toContain('--help');
    }, 60_000);
  }

  for (const [name, usage] of Object.entries(tools)) {
    it(`npm run ${name} -- --help is the tool's own help`, async () => {
      const { code, stdout } = await run('npm', ['run', '--silent', name, '--', '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(usage);
    }, 60_000);
  }

  // The entry points the README names besides the npm scripts.
  for (const [file, usage] of Object.entries({
    'emulators/acs/main.ts': /^usage: npx tsx emulators\/acs\/main\.ts/,
    'emulators/webpubsub/main.ts': /^usage: npx tsx emulators\/webpubsub\/main\.ts/,
    'emulators/cosmos/serve.ts': /^usage: npx tsx emulators\/cosmos\/serve\.ts/,
    'bench/readme-figures.ts': /^usage: npx tsx bench\/readme-figures\.ts/,
  })) {
    it(`npx tsx ${file} --help prints its usage and starts nothing`, async () => {
      const { code, stdout } = await run('npx', ['tsx', file, '--help'], {}, 30_000);
      expect(code).toBe(0);
      expect(stdout).toMatch(usage);
    }, 60_000);
  }

  it('an unknown flag is one line pointing at --help, exit 2', async () => {
    const { code, stderr } = await run('npm', ['run', '--silent', 'emulators', '--', '--bogus']);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe("emulators: Unknown option '--bogus' (see --help)");
  }, 60_000);
});

describe('a missing or bad setting', () => {
  it('reads like the config errors do: every offending setting, what it expects, no stack trace', async () => {
    const { code, stdout, stderr } = await run('npm', ['run', '--silent', 'demo'], { ...MISSING_REDIS, REDIS_SERVER_BIN: undefined, AZURE_OPENAI_API_VERSION: 'yesterday', AGENT_MODE: '' });
    expect(code).toBe(1);
    expect(stderr).toContain('demo: Invalid configuration (1 setting):\n  - AZURE_OPENAI_API_VERSION: ');
    expect(stderr).toContain('expected an API version such as 2025-04-01-preview');
    expect(stackFrames(stdout + stderr)).toEqual([]);
  }, 60_000);

  it('--azure without an endpoint names AZURE_OPENAI_ENDPOINT the same way', async () => {
    const { code, stderr } = await run('npm', ['run', '--silent', 'dev', '--', '--azure', '--settings', join(tmp, 'absent.json')], { AZURE_OPENAI_ENDPOINT: '' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/does not exist/);
    const missing = await run('npm', ['run', '--silent', 'dev', '--', '--azure'], { AZURE_OPENAI_ENDPOINT: '' });
    if (existsSync(join(process.cwd(), 'local.settings.json'))) return; // a developer's own file may hold one
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('dev: Invalid configuration (1 setting):\n  - AZURE_OPENAI_ENDPOINT: required for the Azure OpenAI agent (--azure)');
    expect(stackFrames(missing.stderr)).toEqual([]);
  }, 60_000);

  it('the demo honours AGENT_MODE from the environment, as npm run dev does', async () => {
    const { code, stderr } = await run('npm', ['run', '--silent', 'demo', '--', '--settings', join(tmp, 'empty.json')], { AGENT_MODE: 'azure-openai', AZURE_OPENAI_ENDPOINT: '' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/does not exist/);
    writeFileSync(join(tmp, 'empty.json'), '{"Values":{}}');
    const again = await run('npm', ['run', '--silent', 'demo', '--', '--settings', join(tmp, 'empty.json')], { AGENT_MODE: 'azure-openai', AZURE_OPENAI_ENDPOINT: '' });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('demo: Invalid configuration (1 setting):\n  - AZURE_OPENAI_ENDPOINT: required for the Azure OpenAI agent (AGENT_MODE=azure-openai)');
  }, 60_000);

  it('a port flag that is not a port is a usage error', async () => {
    const { code, stderr } = await run('npm', ['run', '--silent', 'dev', '--', '--functions-port', 'abc']);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('dev: --functions-port expects a port number 0..65535, got "abc" (see --help)');
  }, 60_000);

  it('npm start without Core Tools says how to install them', async () => {
    const { code, stderr } = await run('npm', ['start', '--silent'], { PATH: `${join(process.execPath, '..')}:/usr/bin:/bin`.replace(/:\/usr\/local\/bin/g, '') });
    if (code === 0) return; // Core Tools installed here
    expect(stderr).toMatch(/start: Azure Functions Core Tools \(func\) is not installed: npm install -g azure-functions-core-tools@4|start: local.settings.json is missing/);
  }, 60_000);
});

describe('npm run bench', () => {
  it('records the machine load and exits 1 when a budget fails', async () => {
    const out = join(tmp, 'bench');
    const { code, stderr } = await run('npm', ['run', '--silent', 'bench', '--', 'coldstart', '--runs', '1', '--budget-ms', '1'], { BENCH_RESULTS_DIR: out }, 120_000);
    expect(code).toBe(1);
    expect(stderr).toMatch(/budget failed:\n {2}coldStartP95Ms: [\d.]+ against <= 1 ms/);
    const result = JSON.parse(readFileSync(join(out, 'coldstart.json'), 'utf8')) as { machine: { load: { before: { loadAverage: number[]; stealPercent?: number }; after: { loadAverage: number[] } } } };
    expect(result.machine.load.before.loadAverage).toHaveLength(3);
    expect(result.machine.load.after.loadAverage).toHaveLength(3);
    expect(typeof result.machine.load.before.stealPercent).toBe('number');
  }, 150_000);
});
