/**
 * The operations console's services for one app: the live-call registry, the feed observer the
 * session stores are wrapped with, the snapshot the page opens with, and the Web PubSub client URL
 * the page listens on (console hub, no roles: it can receive, never send or join a group).
 */

import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { WebPubSubServiceClient } from '@azure/web-pubsub';
import type { App } from '../app/index.js';
import { createWebPubSubService } from '../media/webpubsub-service.js';
import { evaluateBaselines, sampleRedisInfo, type MonitoringReport } from '../telemetry/baselines.js';
import { processLatency, type LatencySummary } from '../telemetry/histograms.js';
import { countWebPubSubMessages, latencyDistribution, type LatencyDistribution } from '../telemetry/metrics.js';
import type { StoreCallObserver } from '../telemetry/call-instrumentation.js';
import { CONSOLE_HUB, consoleFeed, type ConsoleMessage } from './feed.js';
import { LiveCallRegistry, liveCallsKey, type LiveCall } from './live-calls.js';

export interface ConsoleSnapshot {
  readonly time: string;
  readonly calls: readonly LiveCall[];
  readonly baselines: MonitoringReport;
  /** Latency summaries of this instance by stage (`turn`, `first_audio`, `stage.*`, `redis`, `persistence`). */
  readonly latency: Readonly<Record<string, LatencySummary>>;
  readonly distribution: LatencyDistribution;
  /** False without Web PubSub: the page then shows this snapshot, refreshed on demand. */
  readonly live: boolean;
}

export interface ConsoleServices {
  readonly registry: LiveCallRegistry;
  readonly observer: StoreCallObserver;
  snapshot(): Promise<ConsoleSnapshot>;
  /** The console hub's client URL with a fresh token, or undefined without Web PubSub. */
  clientUrl(): Promise<string | undefined>;
}

/** What the console needs of the app. */
export type ConsoleHost = Pick<App, 'config' | 'logger' | 'credential' | 'redis'>;

/** The app builds these once (`app.console()`). */
export function createConsoleServices(rt: ConsoleHost): ConsoleServices {
  const { config } = rt;
  const registry = new LiveCallRegistry(async () => (await rt.redis()).client, liveCallsKey(config.keyPrefix, config.env), (config.lifecycle.maxCallDurationSeconds + 600) * 1000);
  const live = Boolean(config.webPubSub.connectionString || config.webPubSub.endpoint);
  let hub: Promise<WebPubSubServiceClient> | undefined;
  const consoleHub = () => {
    hub ??= createWebPubSubService({ ...config, webPubSub: { ...config.webPubSub, hub: CONSOLE_HUB } }, 0, { credential: rt.credential }).catch((error: unknown) => {
      hub = undefined;
      throw error;
    });
    return hub;
  };
  const publish = live
    ? async (message: ConsoleMessage) => {
        await (await consoleHub()).sendToAll(message);
        countWebPubSubMessages('out', 1, { 'rtvoice.webpubsub.hub': CONSOLE_HUB });
      }
    : undefined;
  const observer = consoleFeed({
    registry,
    ...(publish ? { publish } : {}),
    agentName: config.webPubSub.mediaMode === 'realtime' ? 'realtime voice agent' : `${config.agent.mode} agent`,
    shardOf: shardLabeller(rt),
    logger: rt.logger,
  });
  return {
    registry,
    observer,
    async snapshot() {
      const redis = await rt.redis();
      const [calls, info] = await Promise.all([registry.list(), sampleRedisInfo(redis.client).catch(() => undefined)]);
      const latency = Object.fromEntries(Object.entries(processLatency.snapshot()).filter(([name]) => !name.startsWith('redis.')));
      return {
        time: new Date().toISOString(),
        calls,
        baselines: evaluateBaselines({ latency: processLatency, ...(info ? { redis: info } : {}) }),
        latency,
        distribution: latencyDistribution(),
        live,
      };
    },
    async clientUrl() {
      if (!live) return undefined;
      const token = await (await consoleHub()).getClientAccessToken({ userId: `console-${randomBytes(6).toString('hex')}`, expirationTimeInMinutes: 60 });
      return token.url;
    },
  };
}

/** The slot of the call's hash tag, and the master holding it when the client is a cluster client. */
function shardLabeller(rt: ConsoleHost): (callId: string) => string {
  let slots: string[][] | undefined;
  // ioredis' cluster client keeps a live slot → [master, …replicas] table; a single node has none.
  void rt
    .redis()
    .then((redis) => {
      const client = redis.client as { isCluster?: boolean; slots?: string[][] };
      if (client.isCluster && Array.isArray(client.slots)) slots = client.slots;
    })
    .catch(() => undefined);
  return (callId) => {
    const slot = calculateSlot(callId);
    const node = slots?.[slot]?.[0];
    return node ? `slot ${slot} @ ${node}` : `slot ${slot}`;
  };
}
