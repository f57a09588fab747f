/** Messages between the soak's driver and the app process (Node's IPC channel, JSON). */

export type AppRequest =
  | { readonly op: 'stats'; readonly reset?: boolean }
  | { readonly op: 'terminateRelay' }
  | { readonly op: 'startRelay' }
  | { readonly op: 'statuses'; readonly instanceIds: readonly string[] }
  | { readonly op: 'close' };

export type AppMessage =
  | { readonly type: 'ready'; readonly baseUrl: string; readonly webPubSubWebhookUrl: string; readonly functionKey: string; readonly keyPrefix: string }
  | { readonly type: 'utterance'; readonly callId: string; readonly text: string; readonly utteranceId?: string }
  | { readonly type: 'reply'; readonly id: number; readonly ok: boolean; readonly value?: unknown; readonly error?: string };

/** What the app process did since the last reset: CPU (all threads), event-loop delay, memory, relays. */
export interface AppStats {
  readonly pid: number;
  readonly cpuMs: number;
  readonly wallMs: number;
  /** CPU time / wall time: 1 = one core busy all the time. */
  readonly cpuShare: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly rssMb: number;
  readonly relays: ReadonlyArray<{ readonly workerId: string; readonly calls: number; readonly takeovers: number; readonly terminated: boolean; readonly standby?: { readonly calls: number; readonly replays: number; readonly framesReplayed: number } }>;
}
