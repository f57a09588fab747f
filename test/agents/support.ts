import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { playConversation } from '../../emulators/agent-conversations.js';
import type { OfflineStack } from '../../emulators/offline-stack.js';
import { folderSource, parseAgentCatalog, type AgentCatalog, type DefinitionFile } from '../../src/lib/agents/loader.js';
import { createLogger, type Logger } from '../../src/lib/telemetry/logger.js';

/** A logger that keeps every line (message and fields as JSON), to check what reaches the logs. */
export function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger((level, message, fields) => lines.push(`${level} ${message} ${JSON.stringify(fields ?? {}, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v))}`), 'debug');
  return { logger, lines };
}

/** A real HTTP server on a free port; `handler` answers each request. */
export async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: IncomingMessage[]; close(): Promise<void> }> {
  const requests: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A small agent written only as YAML (a library's phone line), for the tests that load one from outside the package. */
export const LIBRARIAN_AGENT = `name: librarian
persona: You answer the phone of {company}, a public library.
instructions: [Keep it short.]
greeting:
  new: "{company} library, how can I help?"
  returning: Welcome back to {company}!
  returningNamed: Welcome back, {displayName}!
prompts:
  reprompt: [Sorry?]
  hold: One moment.
  goodbye: Goodbye from {company}.
  silenceGoodbye: Bye.
  failure: Sorry, bye.
  transferFailed: Sorry, no one can take it.
  transferUnavailable: No one is here.
  notUnderstood: Sorry?
tools: [end_call]
knowledge:
  - id: late
    label: Late returns
    answer: There is no fine for a late book; just bring it back.
    patterns: ['\\blate\\b', 'fine']
offline:
  intents:
    goodbye: ['\\bbye\\b']
  answer: "{label}: {answer}"
  thanks: Any time.
  hello: Hello!
  fallback: 'Sorry, "{heard}"?'
`;

/** The scenario of {@link LIBRARIAN_AGENT}, with one scripted conversation. */
export const LIBRARY_SCENARIO = `name: library
company: Northside
entry: librarian
agents: [librarian]
tests:
  - name: a late book, then goodbye
    steps:
      - say: What happens if my book is late?
      - say: Great, bye.
    expect:
      outcome: completed
      tools: [end_call]
      heard: ["Northside library, how can I help?", "There is no fine for a late book", "Goodbye from Northside."]
`;

/** A temporary definitions folder holding the library scenario ({@link LIBRARY_SCENARIO}, {@link LIBRARIAN_AGENT}). */
export async function libraryFolder(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'agents-'));
  await mkdir(path.join(dir, 'library'));
  await writeFile(path.join(dir, 'routing.yaml'), 'default: library\n');
  await writeFile(path.join(dir, 'library', 'scenario.yaml'), LIBRARY_SCENARIO);
  await writeFile(path.join(dir, 'library', 'librarian.agent.yaml'), LIBRARIAN_AGENT);
  return dir;
}

export async function folderFiles(dir: string): Promise<DefinitionFile[]> {
  return [...(await folderSource(dir).files())];
}

export function catalogOf(definitions: readonly DefinitionFile[]): AgentCatalog {
  return parseAgentCatalog(definitions, { settings: {} });
}

/** What the app greets a caller of the library scenario with, as archived from one short call. */
export async function libraryGreetingHeard(stack: OfflineStack, dir: string): Promise<string> {
  const catalog = catalogOf(await folderFiles(dir));
  const loaded = catalog.scenario('library')!;
  const test = { ...loaded.scenario.tests[0]!, steps: [{ say: 'bye' }], expect: { outcome: 'completed' as const, tools: [], handoffs: [], refused: [], heard: [] } };
  const result = await playConversation(stack, catalog, loaded, test);
  const transcript = await (await stack.runtime.archive()).transcripts.read(result.callId);
  return transcript!.turns.find((t) => t.role === 'assistant')!.content;
}

/**
 * A live-reload check against a definitions source the app re-checks every `refreshSeconds`: a
 * published change of the greeting is heard after the interval, then a broken version written to the
 * source by hand is refused (one `error` log naming AgentDefinitionError) and the last good one serves.
 */
export async function expectLiveReload(options: {
  readonly stack: OfflineStack;
  readonly dir: string;
  readonly refreshSeconds: number;
  readonly lines: readonly string[];
  readonly publish: (files: readonly DefinitionFile[]) => Promise<unknown>;
  readonly writeBroken: (agentText: string) => Promise<unknown>;
}): Promise<void> {
  const { stack, dir } = options;
  const waitOutInterval = () => new Promise((resolve) => setTimeout(resolve, options.refreshSeconds * 1000 + 200));
  // Prepare
  const before = await libraryGreetingHeard(stack, dir);
  await writeFile(path.join(dir, 'library', 'librarian.agent.yaml'), LIBRARIAN_AGENT.replace('how can I help?', 'what are you reading?'));
  // Act: publish, then wait out the interval; the first call after it starts the re-check.
  await options.publish(await folderFiles(dir));
  await waitOutInterval();
  await libraryGreetingHeard(stack, dir);
  const changed = await libraryGreetingHeard(stack, dir);
  await options.writeBroken(LIBRARIAN_AGENT.replace('name: librarian', 'name: Not A Name'));
  await waitOutInterval();
  await libraryGreetingHeard(stack, dir);
  const afterBroken = await libraryGreetingHeard(stack, dir);
  // Assess
  expect(before).toBe('Northside library, how can I help?');
  expect(changed).toBe('Northside library, what are you reading?');
  expect(afterBroken).toBe(changed);
  const refusals = options.lines.filter((l) => l.startsWith('error agent definitions not reloaded'));
  expect(refusals).toHaveLength(1);
  expect(refusals[0]).toContain('AgentDefinitionError');
}
