import type { InvocationContext } from '@azure/functions';
import { runtime } from '../runtime.js';
import { invocationLogger } from '../telemetry/logger.js';
import { handleMediaSystemEvent, type MediaSystemEvent } from './media-events.js';
import { mediaHubSetting } from './groups.js';

type ConnectionContext = { hub?: string; connectionId?: string; userId?: string };
type SystemEventRequest = { connectionContext?: ConnectionContext; reason?: string };

/**
 * The body of the webPubSubTrigger functions: the extension's request (`{ connectionContext, reason? }`,
 * also in `context.triggerMetadata.connectionContext`) → {@link handleMediaSystemEvent}.
 */
export async function onMediaSystemEvent(eventName: MediaSystemEvent['eventName'], request: unknown, context: InvocationContext): Promise<void> {
  const rt = runtime();
  const logger = invocationLogger(context, rt.config.logLevel);
  const body = (request ?? {}) as SystemEventRequest;
  const connection = body.connectionContext ?? (context.triggerMetadata?.connectionContext as ConnectionContext | undefined) ?? {};
  if (!connection.connectionId) {
    logger.warn('web pubsub system event without a connection context ignored', { eventName });
    return;
  }
  await handleMediaSystemEvent(
    { eventName, hub: connection.hub ?? mediaHubSetting(), connectionId: connection.connectionId, userId: connection.userId, reason: body.reason },
    { store: await rt.store(), service: () => rt.webPubSub(), logger },
  );
}
