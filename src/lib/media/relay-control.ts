/**
 * Messages on the relays' control group. The webPubSubTrigger function announces media connections
 * there (through the service's REST API); every relay hears them, races for the call's affinity key
 * (`SET NX`), and remembers calls it does not own so it can take them over when their owner dies.
 */

export type RelayControlMessage =
  /** `connectionId`: the ACS media connection (ACS may reconnect a call's media on a new one). */
  | { readonly type: 'call-connected'; readonly callId: string; readonly connectionId?: string }
  | { readonly type: 'call-disconnected'; readonly callId: string; readonly connectionId?: string }
  /** A relay's own Web PubSub connection is gone: its calls need a new owner. */
  | { readonly type: 'relay-lost'; readonly workerId: string }
  /** A relay took a call over; a stale owner that still thinks it holds the call lets go at once. */
  | { readonly type: 'call-claimed'; readonly callId: string; readonly workerId: string };

export function parseRelayControl(data: unknown): RelayControlMessage | undefined {
  let value = data;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const str = (name: string): string | undefined => (typeof v[name] === 'string' && v[name] !== '' ? (v[name] as string) : undefined);
  switch (v.type) {
    case 'call-connected':
    case 'call-disconnected': {
      const callId = str('callId');
      const connectionId = str('connectionId');
      if (callId === undefined) return undefined;
      return connectionId === undefined ? { type: v.type, callId } : { type: v.type, callId, connectionId };
    }
    case 'relay-lost': {
      const workerId = str('workerId');
      return workerId === undefined ? undefined : { type: 'relay-lost', workerId };
    }
    case 'call-claimed': {
      const callId = str('callId');
      const workerId = str('workerId');
      return callId === undefined || workerId === undefined ? undefined : { type: 'call-claimed', callId, workerId };
    }
    default:
      return undefined;
  }
}
