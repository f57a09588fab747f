import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
