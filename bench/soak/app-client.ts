import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AppMessage, AppRequest, AppStats } from './protocol.js';

export interface AppProcessOptions {
  /** Names the process in its log lines (`component: soak-app-<name>`). */
  readonly name: string;
  /** The app's settings (emulator endpoints, Redis, keys); the callback base URL is added by the app. */
  readonly settings: Record<string, string>;
  readonly media?: { readonly relays: number; readonly webPubSubAccessKey: string; readonly webPubSubEndpoint: string; readonly realtimeCa: string; readonly heartbeatTtlSeconds: number };
  /** What a caller said, from the relay's side channel (media path). */
  readonly onUtterance?: (callId: string, text: string, utteranceId?: string) => void;
  /** The app's own output (its JSON log lines) is appended here. */
  readonly logFile: string;
  /** @default 60000 */
  readonly startTimeoutMs?: number;
}

/** The app under soak, running in its own Node process (app-process.ts). */
export interface AppProcess {
  readonly pid: number;
  readonly baseUrl: string;
  /** The Web PubSub extension's webhook, with its system key. */
  readonly webPubSubWebhookUrl: string;
  readonly functionKey: string;
  readonly eventGridUrl: string;
  stats(reset?: boolean): Promise<AppStats>;
  /** Terminates the relay owning the most calls (as a killed process); returns how many it owned. */
  terminateRelay(): Promise<{ workerId: string; calls: number }>;
  startRelay(): Promise<{ workerId: string }>;
  statuses(instanceIds: readonly string[]): Promise<Record<string, string>>;
  /** Error lines the app logged so far, by message. */
  errors(): Record<string, number>;
  close(): Promise<void>;
}

export async function startAppProcess(options: AppProcessOptions): Promise<AppProcess> {
  const entry = fileURLToPath(new URL('./app-process.ts', import.meta.url));
  const child: ChildProcess = fork(entry, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SOAK_APP_SETTINGS: JSON.stringify({ name: options.name, settings: options.settings, ...(options.media ? { media: options.media } : {}) }) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
  // A driver that dies leaves no app behind.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const errors: Record<string, number> = {};
  for (const stream of [child.stdout, child.stderr]) {
    stream?.pipe(log, { end: false });
    createInterface({ input: stream! }).on('line', (line) => {
      const message = errorMessageOf(line);
      if (message) errors[message] = (errors[message] ?? 0) + 1;
    });
  }
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited = false;
  const ready = new Promise<Extract<AppMessage, { type: 'ready' }>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the app process did not become ready in time')), options.startTimeoutMs ?? 60_000);
    child.on('message', (raw) => {
      const message = raw as AppMessage;
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message);
      } else if (message.type === 'utterance') {
        options.onUtterance?.(message.callId, message.text, message.utteranceId);
      } else if (message.type === 'reply') {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.ok) waiter?.resolve(message.value);
        else waiter?.reject(new Error(`app process: ${message.error}`));
      }
    });
    child.once('exit', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      reject(new Error(`the app process exited (${signal ?? code})`));
      for (const waiter of pending.values()) waiter.reject(new Error(`the app process exited (${signal ?? code})`));
      pending.clear();
    });
  });
  const call = <T>(request: AppRequest): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(new Error('the app process has exited'));
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...request, id });
    });
  let info: Extract<AppMessage, { type: 'ready' }>;
  try {
    info = await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    pid: child.pid as number,
    baseUrl: info.baseUrl,
    webPubSubWebhookUrl: info.webPubSubWebhookUrl,
    functionKey: info.functionKey,
    eventGridUrl: `${info.baseUrl}/api/incomingCall?code=${info.functionKey}`,
    stats: (reset = false) => call<AppStats>({ op: 'stats', reset }),
    terminateRelay: () => call({ op: 'terminateRelay' }),
    startRelay: () => call({ op: 'startRelay' }),
    statuses: (instanceIds) => call({ op: 'statuses', instanceIds }),
    errors: () => ({ ...errors }),
    async close() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await call({ op: 'close' }).catch(() => undefined);
      if (child.connected) child.disconnect();
      await gone;
      clearTimeout(killer);
      log.end();
    },
  };
}

/** The message of an error log line (JSON lines at level error), or of an uncaught error's first line. */
function errorMessageOf(line: string): string | undefined {
  if (line.startsWith('{')) {
    try {
      const entry = JSON.parse(line) as { level?: string; message?: string; error?: { name?: string; message?: string } };
      if (entry.level !== 'error') return undefined;
      const cause = entry.error ? `: ${entry.error.name ?? 'Error'}: ${(entry.error.message ?? '').replace(/\d+(\.\d+)*(:\d+)?/g, 'N')}` : '';
      return `${entry.message ?? 'error'}${cause}`;
    } catch {
      return undefined;
    }
  }
  return /^(\w*Error|Unhandled|Uncaught)\b/.test(line) ? line.slice(0, 160) : undefined;
}
