import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { RedisConfig } from '../../src/lib/config/index.js';
import { createRedis, type ManagedRedis } from '../../src/lib/state/redis-client.js';
import { RedisCluster } from '../support/redis-cluster.js';

const OID = 'rtv-app-oid';

/** A JWT shaped like an Entra access token: the `oid` claim is the ACL user, the whole token the password. */
function token(n: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ oid: OID, n })}.sig${n}`;
}

/**
 * Entra ID tokens rotate; Azure Redis takes the token as the ACL password of the `oid` user. Locally:
 * an ACL user on every node whose password is replaced, the old one removed, its connections killed.
 * The only stand-in is the credential (no Entra here): it hands out the tokens the nodes accept.
 */
describe('Entra ID auth on a cluster whose token rotates', () => {
  let cluster: RedisCluster;
  let redis: ManagedRedis;
  let current = token(1);
  const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: current, expiresOnTimestamp: Date.now() + 60_000 }) };
  const onEveryNode = (...args: (string | number)[]) => Promise.all(cluster.nodes.map((n) => cluster.command(n, ...args)));
  const authFailures = async () => {
    const logs = (await onEveryNode('ACL', 'LOG')) as unknown[][];
    return logs.flat().filter((entry) => JSON.stringify(entry).includes('"auth"')).length;
  };

  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3, replicasPerMaster: 0 });
    await onEveryNode('ACL', 'SETUSER', OID, 'on', `>${current}`, '~*', '&*', '+@all');
    const config: RedisConfig = { host: '127.0.0.1', port: cluster.nodes[0]!.port, tls: false, cluster: true, auth: 'entra', password: undefined, commandTimeoutMs: 500, connectTimeoutMs: 2000 };
    // Replace the token 100 ms after the last one (the real margin is minutes before expiry).
    redis = await createRedis(config, { credential, tokenRefresh: { marginMs: 60_000, minDelayMs: 100 } });
    await redis.ready();
  });
  afterAll(async () => {
    await redis?.close();
    await cluster?.dispose();
  });

  it('uses the current token on every connection it makes: reconnects and slot-map refreshes after the old token is revoked', async () => {
    // Prepare
    const client = redis.client as Cluster;
    await client.set('{rot}a', 'before');
    expect(await client.call('ACL', 'WHOAMI')).toBe(OID);

    // Act: the next token is accepted, handed out, and the old one revoked; every connection is cut
    const previous = current;
    current = token(2);
    await onEveryNode('ACL', 'SETUSER', OID, `>${current}`);
    await new Promise((r) => setTimeout(r, 400));
    await onEveryNode('ACL', 'SETUSER', OID, `<${previous}`);
    await onEveryNode('ACL', 'LOG', 'RESET');
    await onEveryNode('CLIENT', 'KILL', 'USER', OID);
    // A slot moves: the client learns it from a MOVED and refreshes the slot map over new connections.
    const slot = await cluster.slotOf('{rot}a');
    const owner = await cluster.masterOf(slot);
    await cluster.migrateSlot(slot, (await cluster.masters()).find((m) => m.port !== owner.port)!);
    await expect.poll(() => client.get('{rot}a').catch((e: Error) => e.message), { timeout: 5000, interval: 50 }).toBe('before');
    const refreshed = await new Promise<Error | undefined>((resolve) => (client as unknown as { refreshSlotsCache(cb: (err?: Error) => void): void }).refreshSlotsCache(resolve));
    await client.set('{rot}a', 'after');

    // Assess
    expect(refreshed).toBeUndefined();
    expect(await client.get('{rot}a')).toBe('after');
    expect(await authFailures()).toBe(0);
  });
});
