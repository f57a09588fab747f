import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/lib/config/index.js';
import { shardOfCall } from '../../src/lib/media/webpubsub-service.js';
import { baseEnv } from '../support/env.js';

describe('Web PubSub shards in config', () => {
  it('is one shard from WEBPUBSUB_ENDPOINT, or the list in WEBPUBSUB_ENDPOINTS', () => {
    expect(loadConfig(baseEnv({ WEBPUBSUB_ENDPOINT: 'https://a.webpubsub.azure.com' })).webPubSub.shards).toEqual([{ endpoint: 'https://a.webpubsub.azure.com' }]);
    const listed = loadConfig(baseEnv({ WEBPUBSUB_ENDPOINT: 'https://a.webpubsub.azure.com', WEBPUBSUB_ENDPOINTS: 'https://a.webpubsub.azure.com/, https://b.webpubsub.azure.com,' }));
    expect(listed.webPubSub.shards).toEqual([{ endpoint: 'https://a.webpubsub.azure.com' }, { endpoint: 'https://b.webpubsub.azure.com' }]);
  });

  it('takes connection strings first, as for one resource', () => {
    const config = loadConfig(
      baseEnv({ WEBPUBSUB_ENDPOINTS: 'https://a.webpubsub.azure.com', WEBPUBSUB_CONNECTION_STRINGS: 'Endpoint=http://localhost;Port=1;AccessKey=k;Version=1.0;,Endpoint=http://localhost;Port=2;AccessKey=k;Version=1.0;' }),
    );
    expect(config.webPubSub.shards.map((s) => s.connectionString)).toEqual(['Endpoint=http://localhost;Port=1;AccessKey=k;Version=1.0;', 'Endpoint=http://localhost;Port=2;AccessKey=k;Version=1.0;']);
  });

  it('names the setting and the entry that is malformed', () => {
    expect(() => loadConfig(baseEnv({ WEBPUBSUB_ENDPOINTS: 'https://a.webpubsub.azure.com,not a url' }))).toThrow(ConfigError);
    expect(() => loadConfig(baseEnv({ WEBPUBSUB_ENDPOINTS: 'https://a.webpubsub.azure.com,not a url' }))).toThrow(/WEBPUBSUB_ENDPOINTS/);
    expect(() => loadConfig(baseEnv({ WEBPUBSUB_CONNECTION_STRINGS: 'Endpoint=http://localhost;AccessKey=k;,AccessKey=only' }))).toThrow(/WEBPUBSUB_CONNECTION_STRINGS.*entry 2/);
  });

  it('assigns a call to the same shard every time, and spreads calls over every shard', () => {
    expect(shardOfCall('in-abc', 1)).toBe(0);
    expect(shardOfCall('in-abc', 3)).toBe(shardOfCall('in-abc', 3));
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[shardOfCall(`in-${i}`, 3)]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(850);
  });
});
