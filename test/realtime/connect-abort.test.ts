/**
 * A realtime connect aborted during the WebSocket handshake (a relay terminated, a call that ends
 * while its agent is still connecting) rejects with a typed error and nothing else: no unhandled
 * rejection from the openai client's emitter, which would take the whole process down.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRealtimeSocket } from '../../src/lib/agent/realtime/connect.js';

describe('aborting a realtime connect mid-handshake', () => {
  // A server that accepts TCP connections and never answers the upgrade: the handshake stays pending.
  let server: Server;
  const accepted: Socket[] = [];
  beforeAll(async () => {
    server = createServer((socket) => {
      accepted.push(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  });
  afterAll(async () => {
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('rejects with code aborted and leaves no unhandled rejection behind', async () => {
    // Prepare
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const controller = new AbortController();
    const { port } = server.address() as AddressInfo;
    try {
      const pending = openRealtimeSocket({ endpoint: `http://127.0.0.1:${port}`, deployment: 'gpt-realtime', apiKey: 'local-key', signal: controller.signal });
      const outcome = pending.then(
        () => 'opened',
        (error: unknown) => error,
      );
      await expect.poll(() => accepted.length, { timeout: 5_000 }).toBeGreaterThan(0);

      // Act
      controller.abort();

      // Assess
      expect(await outcome).toMatchObject({ name: 'RealtimeAgentError', code: 'aborted', retryable: false });
      // The terminated socket reports its error on a later tick.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
