import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppMessage, AppRequest, AppStats } from './protocol.js';

export interface AppProcessOptions {
  /** The app's settings (emulator endpoints, Redis, keys); the callback base URL is added by the app. */
  readonly settings: Record<string, string>;
  readonly media?: { readonly relays: number; readonly webPubSubAccessKey: string; readonly realtimeCa: string; readonly heartbeatTtlSeconds: number };
  /** What a caller said, from the relay's side channel (media path). */
  readonly onUtterance?: (callId: string, text: string) => void;
  /** @default 60000 */
  readonly startTimeoutMs?: number;
}

/** The app under soak, running in its own Node process (app-process.ts). */
export interface AppProcess {
  readonly pid: number;
  readonly baseUrl: string;
  readonly functionKey: string;
  readonly eventGridUrl: string;
  stats(reset?: boolean): Promise<AppStats>;
  /** Terminates the relay owning the most calls (as a killed process); returns how many it owned. */
  terminateRelay(): Promise<{ workerId: string; calls: number }>;
  startRelay(): Promise<{ workerId: string }>;
  statuses(instanceIds: readonly string[]): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export async function startAppProcess(options: AppProcessOptions): Promise<AppProcess> {
  const entry = fileURLToPath(new URL('./app-process.ts', import.meta.url));
  const child: ChildProcess = fork(entry, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SOAK_APP_SETTINGS: JSON.stringify({ settings: options.settings, ...(options.media ? { media: options.media } : {}) }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  });
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
        options.onUtterance?.(message.callId, message.text);
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
    functionKey: info.functionKey,
    eventGridUrl: `${info.baseUrl}/api/incomingCall?code=${info.functionKey}`,
    stats: (reset = false) => call<AppStats>({ op: 'stats', reset }),
    terminateRelay: () => call({ op: 'terminateRelay' }),
    startRelay: () => call({ op: 'startRelay' }),
    statuses: (instanceIds) => call({ op: 'statuses', instanceIds }),
    async close() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await call({ op: 'close' }).catch(() => undefined);
      child.disconnect();
      await gone;
      clearTimeout(killer);
    },
  };
}
