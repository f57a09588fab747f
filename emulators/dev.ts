/**
 * `npm run dev`: the app on the dev host at http://127.0.0.1:7071 (no Core Tools needed) with a
 * private Redis, the embedded Cosmos server and the ACS emulator, kept running, and a caller you
 * type for: each line is what the caller says, and the transcript prints as the call goes.
 * `--azure` (or AGENT_MODE=azure-openai in the environment or local.settings.json) puts real Azure
 * OpenAI behind the agent; everything else stays local.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CallerScript, CallerStep } from './acs/index.js';
import { agentSettings } from './agent-settings.js';
import { archivedResult, bold, dim, narrate } from './call-narrator.js';
import { FriendlyError, parseCli, portValue, runCli } from './cli-support.js';
import { acsOptionsFor, DEFAULT_PORTS, LOCAL_KEYS, onPort, PORT_FLAGS, SERVICE_NAMES, type LocalPorts } from './local-services.js';
import { DEMO_SOURCE_NUMBER, startOfflineStack, type OfflineStack } from './offline-stack.js';
import { RedisServer } from './redis/server.js';
import { callIdForIncoming } from '../src/lib/calls/session.js';
import { consoleLogger, maskPhoneNumber } from '../src/lib/telemetry/logger.js';

const DEV_PORTS = ['functions', 'redis', 'acs', 'cosmos'] as const;

export const DEV_CLI = {
  usage: 'npm run dev -- [options]',
  summary:
    'Runs the app offline on the dev host with a private Redis, the embedded Cosmos server and the ACS emulator, and stays up.\n' +
    'Type what the caller says: the first line rings the app, and the transcript prints live; every call is archived.\n' +
    'Commands: /call [+number], /dtmf <digits>, /silence, /hangup, /script <file.json>, /help, /quit.',
  options: {
    azure: { type: 'boolean', default: false },
    offline: { type: 'boolean', default: false },
    settings: { type: 'string' },
    script: { type: 'string' },
    from: { type: 'string', default: '+15550100123' },
    ...(Object.fromEntries(DEV_PORTS.map((service) => [PORT_FLAGS[service], { type: 'string' }])) as Record<(typeof PORT_FLAGS)[(typeof DEV_PORTS)[number]], { type: 'string' }>),
  },
  describe: {
    azure: 'the agent uses Azure OpenAI (AZURE_OPENAI_ENDPOINT, and AZURE_OPENAI_API_KEY or `az login`, from the environment or local.settings.json)',
    offline: 'the agent is the offline responder, whatever AGENT_MODE says',
    settings: 'read the agent settings from this local.settings.json (default ./local.settings.json when present)',
    script: 'play this scripted call (JSON: {"steps": [...]} as in emulators/acs/README.md) once the app is up, then keep running',
    from: 'the caller number of typed calls',
    ...(Object.fromEntries(DEV_PORTS.map((service) => [PORT_FLAGS[service], `port of ${SERVICE_NAMES[service]} (default ${DEFAULT_PORTS[service]}; 0 for any free port)`])) as Record<
      (typeof PORT_FLAGS)[(typeof DEV_PORTS)[number]],
      string
    >),
  },
  epilogue:
    'The app waits 5 s for the caller to speak, as ACS does, then re-prompts; after SILENCE_REPROMPTS silences it says goodbye.\n' +
    'Outbound: curl -X POST "http://127.0.0.1:7071/api/calls?code=' + LOCAL_KEYS.functionKey + '" -d \'{"target":"+15550100777"}\' (the callee picks up silently).',
} as const;

/** Steps that arrive as they are typed; the caller waits for each one. */
class TypedSteps implements AsyncIterable<CallerStep> {
  private readonly queued: CallerStep[] = [];
  private waiting: ((step: IteratorResult<CallerStep>) => void) | undefined;
  private closed = false;

  constructor(first: readonly CallerStep[]) {
    this.queued.push(...first);
  }

  /** False once the call has ended: the step is for a new call. */
  push(step: CallerStep): boolean {
    if (this.closed) return false;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting({ done: false, value: step });
    else this.queued.push(step);
    return true;
  }

  close(): void {
    this.closed = true;
    this.waiting?.({ done: true, value: undefined });
    this.waiting = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<CallerStep> {
    return {
      next: () => {
        const step = this.queued.shift();
        if (step) return Promise.resolve({ done: false, value: step });
        if (this.closed) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => (this.waiting = resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}

async function main(): Promise<number | void> {
  const { values } = parseCli(DEV_CLI);
  const flags = values as Record<string, string | boolean | undefined>;
  const ports = Object.fromEntries(DEV_PORTS.map((s) => [s, portValue(PORT_FLAGS[s], flags[PORT_FLAGS[s]] as string | undefined, DEFAULT_PORTS[s])])) as Pick<LocalPorts, (typeof DEV_PORTS)[number]>;
  const agent = agentSettings({ azure: values.azure, offline: values.offline, ...(values.settings ? { settingsFile: values.settings } : {}) });
  const script = values.script ? readScript(values.script) : undefined;
  const logger = consoleLogger('warn', { component: 'dev' });

  const redis = await onPort('redis', ports.redis, () => RedisServer.start(ports.redis === 0 ? {} : { port: ports.redis }));
  let stack: OfflineStack;
  try {
    if (ports.functions !== 0) await onPort('functions', ports.functions, async () => undefined);
    if (ports.acs !== 0) await onPort('acs', ports.acs, async () => undefined);
    if (ports.cosmos !== 0) await onPort('cosmos', ports.cosmos, async () => undefined);
    stack = await startOfflineStack({
      redis: { host: redis.host, port: redis.port },
      hostPort: ports.functions,
      cosmosPort: ports.cosmos,
      functionKeys: [LOCAL_KEYS.functionKey],
      acs: { ...acsOptionsFor({ ...DEFAULT_PORTS, acs: ports.acs }), controlApi: true, speechMsPerChar: 8 },
      env: { LOG_LEVEL: 'warn', REDIS_KEY_PREFIX: 'rtvoice', ...agent.settings },
      logger,
    });
  } catch (error) {
    await redis.dispose();
    throw error;
  }

  let stopping = false;
  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    await stack.close();
    await redis.dispose();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  const agentLine =
    agent.mode === 'azure-openai'
      ? `Azure OpenAI ${stack.config.agent.endpoint ?? ''} (deployment ${stack.config.agent.chatDeployment}, ${stack.config.agent.apiKey ? 'API key' : 'your az login'})`
      : 'the offline responder';
  console.log(bold('rtvoice dev') + dim(` — the app on the dev host, local emulators; agent: ${agentLine}${agent.sources.length ? `; settings from ${agent.sources.join(', ')}` : ''}`));
  console.log(dim(`  functions ${stack.host.baseUrl} (function key ${LOCAL_KEYS.functionKey}) · redis ${redis.host}:${redis.port} · cosmos ${stack.cosmos.endpoint} · acs ${stack.acs.endpoint}`));
  console.log(`Type what the caller says (the first line rings the app), or /help.`);

  const known = new Set<string>();
  const narrator = narrate(stack, known);
  let current: { steps: TypedSteps; ended: Promise<void> } | undefined;

  const placeCall = (from: string, steps: CallerScript['steps'], typed?: TypedSteps) => {
    console.log(`\n${bold('▶ call')} ${dim(`from ${maskPhoneNumber(from)}`)}`);
    const ended = stack.acs
      .placeCall({ from, to: DEMO_SOURCE_NUMBER, steps }, { eventGridUrl: stack.eventGridUrl, maxDurationMs: stack.config.lifecycle.maxCallDurationSeconds * 1000 })
      .then(async (recording) => {
        // Lines typed from now on are for the next call, not this one.
        if (typed && current?.steps === typed) current = undefined;
        typed?.close();
        console.log(dim(`  call ended by ${recording.endedBy} after ${(recording.durationMs / 1000).toFixed(1)} s${recording.notes.length ? `; ${recording.notes.join('; ')}` : ''}`));
        const result = await archivedResult(stack, 'call', callIdForIncoming(recording.serverCallId), recording.callConnectionId);
        console.log(result.archived ? `${bold('✔ archived')} ${result.turns} turns, outcome ${result.outcome} (call ${result.callId})` : `${bold('✘ not archived')} (${result.outcome})`);
      })
      .catch((error: unknown) => console.error(`the call failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        if (current?.steps === typed) current = undefined;
      });
    if (typed) current = { steps: typed, ended };
    return ended;
  };
  const typedCall = (from: string): TypedSteps => {
    const steps = new TypedSteps([{ waitFor: 'greeting', timeoutMs: 30_000 }]);
    void placeCall(from, steps, steps);
    return steps;
  };

  if (script) await placeCall(script.from ?? values.from, script.steps);

  const lines = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
  // Typed lines are answered one at a time, in order.
  for await (const raw of lines) {
    const line = raw.trim();
    if (!line) continue;
    if (!line.startsWith('/')) {
      if (!current?.steps.push({ say: line, timeoutMs: 120_000 })) typedCall(values.from).push({ say: line, timeoutMs: 120_000 });
      continue;
    }
    const [command, ...rest] = line.split(/\s+/);
    const argument = rest.join(' ');
    switch (command) {
      case '/call':
        if (current) console.log('a call is in progress: /hangup first');
        else typedCall(argument || values.from);
        break;
      case '/dtmf':
        if (!current?.steps.push({ dtmf: argument, timeoutMs: 120_000 })) typedCall(values.from).push({ dtmf: argument, timeoutMs: 120_000 });
        break;
      case '/silence':
        if (!current?.steps.push({ silence: true })) console.log('no call in progress');
        break;
      case '/hangup':
        if (!current?.steps.push({ hangUp: true })) console.log('no call in progress');
        break;
      case '/script': {
        if (current) {
          console.log('a call is in progress: /hangup first');
          break;
        }
        try {
          const played = readScript(argument);
          await placeCall(played.from ?? values.from, played.steps);
        } catch (error) {
          console.log(error instanceof FriendlyError ? error.message : String(error));
        }
        break;
      }
      case '/quit':
        narrator.stop();
        await current?.ended;
        return stop(0);
      case '/help':
        console.log(DEV_CLI.summary);
        break;
      default:
        console.log(`unknown command ${command}; /help lists them`);
    }
  }
  // Input ended (e.g. piped): the app stays up until Ctrl-C or SIGTERM.
  return new Promise<never>(() => {});
}

function readScript(file: string): { from?: string; steps: CallerStep[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FriendlyError(`cannot read the script ${file}: ${(error as Error).message}`);
  }
  const script = parsed as { from?: unknown; steps?: unknown };
  if (!Array.isArray(script.steps)) throw new FriendlyError(`the script ${file} has no "steps" array (see emulators/acs/README.md)`);
  return { ...(typeof script.from === 'string' ? { from: script.from } : {}), steps: script.steps as CallerStep[] };
}

runCli('dev', main);
