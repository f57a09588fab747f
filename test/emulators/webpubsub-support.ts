/** Helpers shared by the Web PubSub emulator tests: turn a hang into a failure with a clear message. */
import { WebSocket } from 'ws';

/** Resolves with the first value `take` returns that is not undefined; rejects after `timeoutMs`. */
export function eventually<T>(description: string, take: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const value = take();
      if (value !== undefined) return resolve(value);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${description}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** A raw WebSocket client (what ACS is): collects every frame it receives. */
export class RawClient {
  readonly frames: Array<{ data: Buffer; isBinary: boolean }> = [];
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => this.frames.push({ data, isBinary }));
  }

  /** Connects; rejects with the HTTP status when the upgrade is refused. */
  static connect(url: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('open', () => resolve(new RawClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        reject(new UpgradeRefused(res.statusCode ?? 0));
        res.resume();
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer, binary: boolean): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, { binary }, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.socket.close();
  }
}

export class UpgradeRefused extends Error {
  override readonly name = 'UpgradeRefused';
  constructor(readonly status: number) {
    super(`WebSocket upgrade refused with HTTP ${status}`);
  }
}
