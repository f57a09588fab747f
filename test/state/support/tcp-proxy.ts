import { createServer, Socket, type Server } from 'node:net';

/**
 * A TCP proxy between a client and Redis that (a) counts round trips: a new one starts each time the
 * client sends after having received something (or for the first time), so a pipeline is one and a
 * request/response ping-pong is many; and (b) can swallow Redis's replies, to make a write land
 * while its reply is lost (the "uncertain" case of the journal).
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private swallowing = false;
  roundTrips = 0;
  bytesToServer = 0;
  private lastFromServer = true;

  private constructor(private readonly targetPort: number) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await proxy.listen();
    return proxy;
  }

  port = 0;

  private listen(): Promise<void> {
    return new Promise((resolve) => {
      this.server = createServer((client) => {
        const upstream = new Socket();
        const pair = { client, upstream };
        this.pairs.add(pair);
        upstream.connect(this.targetPort, '127.0.0.1');
        client.on('data', (chunk: Buffer) => {
          if (this.lastFromServer) this.roundTrips++;
          this.lastFromServer = false;
          this.bytesToServer += chunk.length;
          upstream.write(chunk);
        });
        upstream.on('data', (chunk: Buffer) => {
          if (this.swallowing) return;
          this.lastFromServer = true;
          client.write(chunk);
        });
        const close = () => {
          client.destroy();
          upstream.destroy();
          this.pairs.delete(pair);
        };
        client.on('close', close);
        upstream.on('close', close);
        client.on('error', close);
        upstream.on('error', close);
      });
      this.server.listen(0, '127.0.0.1', () => {
        const address = this.server?.address();
        this.port = typeof address === 'object' && address ? address.port : 0;
        resolve();
      });
    });
  }

  resetCounters(): void {
    this.roundTrips = 0;
    this.bytesToServer = 0;
    this.lastFromServer = true;
  }

  /** Replies from Redis are dropped while on. */
  swallowReplies(on: boolean): void {
    this.swallowing = on;
  }

  /** Cuts every connection (the client reconnects). */
  dropConnections(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
