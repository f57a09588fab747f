import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { ArchiveError, createCosmosClient, isLocalEndpoint } from '../../src/lib/archive/index.js';
import { closedPort } from '../support/ports.js';

describe('createCosmosClient', () => {
  it('uses Microsoft Entra ID with the account scope when no key is configured', async () => {
    // Prepare: a credential that records what it is asked for. Managed identity cannot run here, and
    // the SDK sends bearer tokens over https only, so the request goes to a closed https port: the
    // token is fetched before the connection is attempted.
    const scopes: string[] = [];
    const credential: TokenCredential = {
      async getToken(scope: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
        scopes.push(...(Array.isArray(scope) ? scope : [scope]));
        return { token: 'header.payload.signature', expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const endpoint = `https://127.0.0.1:${await closedPort()}`;
    const client = await createCosmosClient({ endpoint, key: undefined, database: 'rtvoice', auditTtlDays: 30 }, { credential, requestTimeoutMs: 1000 });

    try {
      // Act
      const attempt = client.database('rtvoice').read();

      // Assess
      await expect(attempt).rejects.toThrow();
      expect(scopes).toContain(`${endpoint}/.default`);
    } finally {
      client.dispose();
    }
  });

  it('refuses to build a client without an endpoint', async () => {
    await expect(createCosmosClient({ endpoint: undefined, key: 'k', database: 'rtvoice', auditTtlDays: 30 })).rejects.toBeInstanceOf(ArchiveError);
  });

  it('treats http and loopback endpoints as local (no endpoint discovery)', () => {
    expect(isLocalEndpoint('http://cosmos.internal:8081')).toBe(true);
    expect(isLocalEndpoint('https://localhost:8081')).toBe(true);
    expect(isLocalEndpoint('https://acct.documents.azure.com:443')).toBe(false);
  });
});
