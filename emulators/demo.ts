/**
 * `npm run demo`: whole phone calls, offline, through the real function handlers, the real Azure SDK
 * clients, a private Redis, the embedded Cosmos server and the ACS emulator. Prints a live transcript
 * with per-turn latency and what was archived; exits 0 only if every call was archived.
 *
 * `npm run demo -- --media` plays a call through the real-time media path instead. The agent is chosen
 * as for `npm run dev`: `--azure`, or AGENT_MODE and AZURE_OPENAI_* from the environment or
 * local.settings.json (the media call always uses the realtime emulator: its caller's audio is
 * synthetic noise, which a real model cannot understand).
 * `--telemetry` exports the calls' traces and metrics over OTLP and prints them at the end;
 * `--console` keeps the stack up with the operations console (see `demo-console.ts`).
 * `--agent <scenario>` plays the scenario's scripted conversations (`agents/<scenario>`) as calls;
 * `--agent support` is the demo above, whose agent is that definition. With `--media` the scenario's
 * conversations are spoken and keyed on the media path (relay, `session.update` handoffs, PINs as
 * DtmfData), the realtime emulator answering as the definitions do.
 */
import type { CallerScript, CallRecording } from './acs/index.js';
import { startOfflineStack, type OfflineStack } from './offline-stack.js';
import { callIdForIncoming } from '../src/lib/calls/session.js';
import { consoleLogger, maskPhoneNumber } from '../src/lib/telemetry/logger.js';
import { loadAgentCatalog } from '../src/lib/agents/index.js';
import { playConversation, resultTable, startConversationStack, type ConversationPath, type ConversationResult } from './agent-conversations.js';
import { startClaimsApi } from './claims-api.js';
import { DEMO_TRANSFER_NUMBER } from './offline-stack.js';
import { archivedResult, bold, dim, narrate, type CallResult } from './call-narrator.js';
import { agentSettings } from './agent-settings.js';
import { FriendlyError, parseCli, runCli } from './cli-support.js';

export const DEMO_CLI = {
  usage: 'npm run demo -- [options]',
  summary:
    'Plays four scripted phone calls through the real handlers and Azure SDKs against local emulators (a private redis-server,\n' +
    'the embedded Cosmos server, the ACS emulator), prints the transcripts and what was archived, and exits 0 only if every call was archived.',
  options: {
    media: { type: 'boolean', default: false },
    azure: { type: 'boolean', default: false },
    offline: { type: 'boolean', default: false },
    settings: { type: 'string' },
    telemetry: { type: 'boolean', default: false },
    console: { type: 'boolean', default: false },
    agent: { type: 'string' },
  },
  describe: {
    media: 'play one call through the real-time media path (Web PubSub → relay → realtime emulator) with a barge-in',
    azure: 'the agent uses Azure OpenAI (AZURE_OPENAI_ENDPOINT, and AZURE_OPENAI_API_KEY or `az login`, from the environment or local.settings.json)',
    offline: 'the agent is the offline responder, whatever AGENT_MODE says',
    settings: 'read the agent settings from this local.settings.json (default ./local.settings.json when present)',
    telemetry: "export the calls' traces and metrics over OTLP to a local receiver and print each call's trace tree and a metric summary",
    console: 'keep the stack up with the operations console and print its URL',
    agent: "play this scenario's scripted conversations (agents/<scenario>/scenario.yaml) as calls (with --media: on the media path)",
  },
} as const;

async function inboundCall(stack: OfflineStack, known: Set<string>, title: string, script: CallerScript): Promise<CallResult> {
  console.log(`\n${bold(`▶ ${title}`)} ${dim(`(from ${maskPhoneNumber(String((script.from as { phoneNumber?: string } | string) ?? ''))})`)}`);
  const narrator = narrate(stack, known);
  let recording: CallRecording;
  try {
    recording = await stack.acs.placeCall(script, { eventGridUrl: stack.eventGridUrl, maxDurationMs: 60_000 });
  } finally {
    narrator.stop();
  }
  console.log(dim(`  call ended by ${recording.endedBy} after ${(recording.durationMs / 1000).toFixed(1)} s; REST calls: ${recording.operations.join(' → ')}`));
  return archivedResult(stack, title, callIdForIncoming(recording.serverCallId), recording.callConnectionId);
}

async function outboundCall(stack: OfflineStack, known: Set<string>): Promise<CallResult> {
  const title = 'Outbound call placed through POST /api/calls';
  console.log(`\n${bold(`▶ ${title}`)}`);
  const narrator = narrate(stack, known);
  try {
    const callee = stack.acs.answerNextOutboundCall({ steps: [{ waitFor: 'greeting' }, { say: 'Yes, now is fine. When will my order arrive?' }, { say: "Great, that's all, goodbye" }] });
    const response = await fetch(stack.placeCallUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: '+15550100777', purpose: 'your recent order' }),
    });
    const placed = (await response.json()) as { callId: string; callConnectionId: string };
    console.log(dim(`  POST /api/calls → ${response.status} ${JSON.stringify({ callId: placed.callId })}`));
    const recording = await callee;
    console.log(dim(`  call ended by ${recording.endedBy} after ${(recording.durationMs / 1000).toFixed(1)} s; REST calls: ${recording.operations.join(' → ')}`));
    return await archivedResult(stack, title, placed.callId, placed.callConnectionId);
  } finally {
    narrator.stop();
  }
}

async function main(): Promise<number> {
  const { values } = parseCli(DEMO_CLI);
  // Loaded only when asked for, like the media path.
  const telemetry = values.telemetry ? await (await import('./demo-telemetry.js')).startDemoTelemetry((line) => console.log(dim(line))) : undefined;
  try {
    if (values.console) return await (await import('./demo-console.js')).runConsoleDemo();
    return await playDemo(values);
  } finally {
    await telemetry?.report((line) => console.log(line));
  }
}

async function playDemo(values: { media: boolean; azure: boolean; offline: boolean; settings?: string | undefined; agent?: string | undefined }): Promise<number> {
  if (values.agent !== undefined && (values.agent !== 'support' || values.media)) {
    if (values.media && values.azure) throw new FriendlyError('--agent with --media plays the realtime emulator only; use npm run dev -- --azure');
    return scenarioDemo(values.agent, values.media ? 'media' : 'recognize/play');
  }
  if (values.media) {
    if (values.azure) throw new FriendlyError('--media plays the realtime emulator only: its caller speaks synthetic noise, which a real model cannot understand; use npm run dev -- --azure');
    // Loaded only for --media: the media path pulls in the Web PubSub and realtime emulators.
    const mediaDemo = './demo-media.js';
    const { runMediaDemo } = (await import(mediaDemo)) as { runMediaDemo?: () => Promise<number> };
    if (!runMediaDemo) {
      console.error('The media demo is not available in this build.');
      return 2;
    }
    return runMediaDemo();
  }

  const agent = agentSettings({ azure: values.azure, offline: values.offline, ...(values.settings ? { settingsFile: values.settings } : {}) });
  const agentNote = agent.mode === 'azure-openai' ? `, agent: Azure OpenAI (settings from ${agent.sources.join(', ') || 'flags'})` : '';
  console.log(bold('rtvoice offline demo') + dim(` — real handlers, real Azure SDKs, local Redis, embedded Cosmos, ACS emulator${agentNote}`));
  // Every scenario under agents/ loads, the insurance one with its claims system answered locally.
  const claims = await startClaimsApi();
  const stack = await startOfflineStack({ acs: { speechMsPerChar: 8 }, env: { CLAIMS_API_URL: claims.url, ...agent.settings } }).catch(async (err: unknown) => {
    await claims.close();
    throw err;
  });
  console.log(dim(`  redis ${stack.redis.host}:${stack.redis.port} · cosmos ${stack.cosmos.endpoint} · acs ${stack.acs.endpoint} · functions ${stack.host.baseUrl}`));
  const known = new Set<string>();
  const results: CallResult[] = [];
  try {
    const caller = '+15550100123';
    results.push(
      await inboundCall(stack, known, 'A new caller asks two things and says goodbye', {
        from: caller,
        to: '+15550100000',
        callerDisplayName: 'Alex',
        steps: [{ waitFor: 'greeting' }, { say: 'Hi, what are your opening hours?' }, { say: 'And how do I change my address?' }, { say: "Thanks, that's all. Goodbye!" }],
      }),
    );
    results.push(
      await inboundCall(stack, known, 'The same caller calls back and is recognised', {
        from: caller,
        to: '+15550100000',
        callerDisplayName: 'Alex',
        steps: [{ waitFor: 'greeting' }, { say: 'I have a question about my bill.' }, { say: 'No, that was it, bye.' }],
      }),
    );
    results.push(
      await inboundCall(stack, known, 'A caller asks for a human and is transferred', {
        from: '+15550100456',
        to: '+15550100000',
        steps: [{ waitFor: 'greeting' }, { say: 'Where is my order?' }, { say: 'I would like to speak to a human, please.' }, { waitFor: 'agentSilence', timeoutMs: 10_000 }],
      }),
    );
    results.push(await outboundCall(stack, known));
  } finally {
    await stack.close();
    await claims.close();
  }

  console.log(`\n${bold('Archived')}`);
  for (const r of results) console.log(`  ${r.archived ? '✔' : '✘'} ${r.title}: ${r.turns} turns, ${r.outcome}`);
  const ok = results.every((r) => r.archived);
  console.log(ok ? bold('\nEvery call was archived.') : bold('\nSome calls were not archived.'));
  return ok ? 0 : 1;
}

/** A media call's archived turns: who spoke, what the caller heard, the tools and handoff of each agent turn. */
async function printTranscript(stack: OfflineStack, callId: string): Promise<void> {
  const transcript = await (await stack.runtime.archive()).transcripts.read(callId);
  for (const turn of transcript?.turns ?? []) {
    if (turn.meta?.kind === 'truncation') continue;
    const tools = Array.isArray(turn.meta?.tools) ? ` [${(turn.meta.tools as string[]).join(', ')}]` : '';
    const handoff = typeof turn.meta?.handoffTo === 'string' ? ` → ${turn.meta.handoffTo}` : '';
    const agent = typeof turn.meta?.agent === 'string' ? `${turn.meta.agent}` : 'agent';
    const who = turn.role === 'user' ? 'caller' : agent;
    console.log(`  ${bold(`${who}:`.padEnd(14))} ${turn.content}${dim(tools + handoff)}`);
  }
}

/** `--agent <scenario>`: each scripted conversation of the scenario as a narrated call on `path`, then a pass/fail table. */
async function scenarioDemo(name: string, path: ConversationPath): Promise<number> {
  const claims = await startClaimsApi();
  const env = { CLAIMS_API_URL: claims.url };
  try {
    const catalog = await loadAgentCatalog('agents', { settings: { ...process.env, ...env, TRANSFER_TARGET_NUMBER: DEMO_TRANSFER_NUMBER } });
    const loaded = catalog.scenario(name);
    if (!loaded) throw new FriendlyError(`no scenario "${name}" (scenarios: ${[...catalog.scenarios.keys()].join(', ')})`);
    console.log(bold(`rtvoice offline demo: scenario ${name}, ${path} path`) + dim(` — ${loaded.scenario.description ?? loaded.scenario.company}`));
    const stack = await startConversationStack(catalog, path, { env, speechMsPerChar: 8, logger: consoleLogger('error', { component: 'demo' }) });
    const known = new Set<string>();
    const results: ConversationResult[] = [];
    try {
      for (const test of loaded.scenario.tests) {
        console.log(`\n${bold(`▶ ${test.name}`)}${test.caller.pin ? dim(' (the caller has a PIN on file)') : ''}`);
        // The narrator follows ACS's plays and recognitions, which a media call has none of.
        const narrator = path === 'media' ? undefined : narrate(stack, known);
        try {
          results.push(await playConversation(stack, catalog, loaded, test));
        } finally {
          narrator?.stop();
        }
        const result = results.at(-1)!;
        // On the media path the words travel as audio: the archived transcript says what was said.
        if (path === 'media') await printTranscript(stack, result.callId);
        console.log(dim(`  outcome ${result.outcome}; tools ${result.tools.join(', ') || '—'}; handoffs ${result.handoffs.join(', ') || '—'}`));
      }
    } finally {
      await stack.close();
    }
    console.log(`\n${resultTable(results)}`);
    if (claims.requests.length > 0) console.log(dim(`\nclaims system requests: ${claims.requests.join(', ')}`));
    return results.every((r) => r.passed) ? 0 : 1;
  } finally {
    await claims.close();
  }
}

runCli('demo', main);
