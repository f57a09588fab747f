import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server speaking the Azure OpenAI chat-completions wire format
 * (`POST /openai/deployments/{deployment}/chat/completions?api-version=…`, `text/event-stream` of
 * `data: {chat.completion.chunk}` lines ending with `data: [DONE]`). It stands in for Azure OpenAI,
 * which cannot run offline; the `openai` SDK under test is the real one, over a real socket.
 */

export interface RecordedRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
}

export type Script =
  | { readonly kind: 'stream'; readonly chunks: readonly object[]; readonly hangAfterChunks?: boolean; /** A slow model: the stream starts this late. */ readonly delayMs?: number }
  | { readonly kind: 'error'; readonly status: number; readonly body?: object };

let chunkSeq = 0;

/** A `chat.completion.chunk` as Azure sends it (with content filter fields). */
export function chunk(delta: object, finishReason: string | null = null): object {
  chunkSeq += 1;
  return {
    id: `chatcmpl-${chunkSeq}`,
    object: 'chat.completion.chunk',
    created: 1_764_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    system_fingerprint: 'fp_test',
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null, content_filter_results: {} }],
  };
}

/** Azure's first chunk: no choices, only prompt filter results. */
export const promptFilterChunk = {
  id: '',
  object: '',
  created: 0,
  model: '',
  choices: [],
  prompt_filter_results: [{ prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: 'safe' } } }],
};

export function usageChunk(prompt: number, completion: number): object {
  return { id: 'chatcmpl-usage', object: 'chat.completion.chunk', created: 1_764_000_000, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } };
}

/** A text reply split into deltas. */
export function textReply(...parts: string[]): Script {
  return {
    kind: 'stream',
    chunks: [
      promptFilterChunk,
      chunk({ role: 'assistant', content: '' }),
      ...parts.map((p) => chunk({ content: p })),
      chunk({}, 'stop'),
      usageChunk(120, 20),
    ],
  };
}

/** The same reply from a slow model: the stream starts `delayMs` late. */
export function slow(script: Script, delayMs: number): Script {
  return script.kind === 'stream' ? { ...script, delayMs } : script;
}

/** A tool call whose arguments arrive in fragments, optionally after some text. */
export function toolCallReply(name: string, argumentFragments: readonly string[], text = ''): Script {
  return {
    kind: 'stream',
    chunks: [
      promptFilterChunk,
      chunk({ role: 'assistant', content: text || null }),
      chunk({ tool_calls: [{ index: 0, id: `call_${name}`, type: 'function', function: { name, arguments: '' } }] }),
      ...argumentFragments.map((a) => chunk({ tool_calls: [{ index: 0, function: { arguments: a } }] })),
      chunk({}, 'tool_calls'),
      usageChunk(150, 10),
    ],
  };
}

export class AzureOpenAIStandIn {
  readonly requests: RecordedRequest[] = [];
  private readonly scripts: Script[] = [];
  private readonly server: Server;
  private readonly open = new Set<ServerResponse>();
  endpoint = '';

  private constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        this.requests.push({ path: url.pathname, query: url.searchParams, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
        const script = this.scripts.shift() ?? { kind: 'error', status: 500, body: { error: { code: 'NoScript', message: 'no scripted reply' } } };
        const delayMs = script.kind === 'stream' ? (script.delayMs ?? 0) : 0;
        if (delayMs > 0) setTimeout(() => this.reply(res, script), delayMs);
        else this.reply(res, script);
      });
    });
  }

  static async start(): Promise<AzureOpenAIStandIn> {
    const standIn = new AzureOpenAIStandIn();
    await new Promise<void>((resolve) => standIn.server.listen(0, '127.0.0.1', resolve));
    standIn.endpoint = `http://127.0.0.1:${(standIn.server.address() as AddressInfo).port}`;
    return standIn;
  }

  script(...scripts: Script[]): void {
    this.scripts.push(...scripts);
  }

  reset(): void {
    this.requests.length = 0;
    this.scripts.length = 0;
  }

  private reply(res: ServerResponse, script: Script): void {
    if (script.kind === 'error') {
      res.writeHead(script.status, { 'content-type': 'application/json' }).end(JSON.stringify(script.body ?? { error: { code: String(script.status), message: 'scripted error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const c of script.chunks) res.write(`data: ${JSON.stringify(c)}\n\n`);
    if (script.hangAfterChunks) {
      this.open.add(res); // never finished: the client must abort
      res.on('close', () => this.open.delete(res));
      return;
    }
    res.end('data: [DONE]\n\n');
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
