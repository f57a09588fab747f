import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private `redis-server` for tests and offline runs: free port, no persistence, optional password. It can be
 * stopped and restarted on the same port, which is how fault tests take Redis away mid-call.
 * Tests never touch the machine's Redis on 6379.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private readonly dir: string;

  private constructor(
    readonly port: number,
    readonly password: string | undefined,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'rtvoice-redis-'));
  }

  static async start(options: { password?: string; port?: number } = {}): Promise<RedisServer> {
    if (options.port !== undefined) return RedisServer.startOn(options.port, options.password);
    // A port found free can be taken before redis-server binds it (by any process's outgoing
    // connection, too): then redis-server exits at once, and another free port is tried.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await RedisServer.startOn(await freePort(), options.password);
      } catch (error) {
        if (attempt >= 3 || !(error instanceof RedisServerExited)) throw error;
      }
    }
  }

  private static async startOn(port: number, password: string | undefined): Promise<RedisServer> {
    const server = new RedisServer(port, password);
    try {
      await server.startProcess();
    } catch (error) {
      await server.dispose();
      throw error;
    }
    return server;
  }

  get host(): string {
    return '127.0.0.1';
  }

  get url(): string {
    const auth = this.password ? `:${encodeURIComponent(this.password)}@` : '';
    return `redis://${auth}${this.host}:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async startProcess(): Promise<void> {
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--daemonize', 'no',
      '--loglevel', 'warning',
      ...(this.password ? ['--requirepass', this.password] : []),
    ];
    const child = spawn(redisServerBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? new RedisServerMissingError(redisServerBinary()) : error));
      child.once('exit', (code) => reject(new RedisServerExited(`redis-server exited with ${code}: ${stderr.trim()}`)));
    });
    this.child = child;
    await Promise.race([waitForRedis(this.port, 5000, () => child.exitCode === null && child.signalCode === null), failed]);
    child.removeAllListeners('exit');
  }
}

/** redis-server stopped while starting (e.g. its port was taken in the meantime). */
export class RedisServerExited extends Error {
  override readonly name = 'RedisServerExited';
}

/** The redis-server binary is not installed (or not where REDIS_SERVER_BIN points). */
export class RedisServerMissingError extends Error {
  override readonly name = 'RedisServerMissingError';
  constructor(readonly binary: string) {
    super(
      `${binary} was not found: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis; ` +
        'Windows: use WSL or the devcontainer) or set REDIS_SERVER_BIN to its path',
    );
  }
}

export function redisServerBinary(): string {
  return process.env.REDIS_SERVER_BIN ?? 'redis-server';
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Waits until Redis answers a PING on the port: a TCP connect alone would also succeed against
 * whatever else listens there (the port can be taken between finding it free and binding it).
 * With `requirepass` the answer is a NOAUTH error, which is Redis answering too.
 */
export async function waitForRedis(port: number, timeoutMs: number, starting: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && starting()) {
    if (await answersPing(port, Math.min(250, Math.max(1, deadline - Date.now())))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`redis-server did not answer on ${port} within ${timeoutMs} ms`);
}

function answersPing(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = new Socket();
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}
