/**
 * The relay running in this process, if any, so the webPubSubTrigger function can hand it a call
 * directly instead of waiting for the control-group announcement to come back around.
 */

export interface LocalRelay {
  readonly workerId: string;
  handleConnected(callId: string, connectionId?: string): Promise<boolean>;
  handleDisconnected(callId: string, connectionId?: string): Promise<void>;
}

let current: LocalRelay | undefined;

export function localRelay(): LocalRelay | undefined {
  return current;
}

/** Sets the process's relay; `setLocalRelay(undefined, relay)` clears it only if `relay` is the current one. */
export function setLocalRelay(relay: LocalRelay | undefined, previous?: LocalRelay): void {
  if (relay === undefined && previous !== undefined && current !== previous) return;
  if (relay !== undefined && current !== undefined) return; // the first relay of the process stays local
  current = relay;
}
