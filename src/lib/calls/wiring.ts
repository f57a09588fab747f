import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { archiveProfileLookup } from '../agent/profile-lookup.js';
import { userIdFromPhoneNumber, type Archive } from '../archive/index.js';
import type { App } from '../app/index.js';
import { shardedMediaTransportUrlFactory } from '../media/media-token.js';
import { invocationLogger, type Logger } from '../telemetry/logger.js';
import { durableLifecycle } from './durable-lifecycle.js';
import type { AuditPort, CallControlDeps, LifecyclePort, ProfilePort } from './ports.js';

/** Call-control dependencies of one invocation: the app plus the invocation's durable client. */
export async function callControlDeps(context: InvocationContext, rt: App): Promise<CallControlDeps> {
  const logger = invocationLogger(context, rt.config.logLevel);
  return callControlDepsWith(rt, durableLifecycle(df.getClient(context), logger), logger);
}

export async function callControlDepsWith(rt: App, lifecycle: LifecyclePort, logger: Logger = rt.logger): Promise<CallControlDeps> {
  const [state, sessions, agents] = await Promise.all([rt.callControlState(), rt.callSessions(), rt.agents()]);
  return {
    config: rt.config,
    // Traced (spans, the turn's stage times) and observed by the operations console; behaviour unchanged.
    store: state.store,
    sessions: state.sessions,
    fencing: state.fencing,
    acs: state.acs,
    agent: state.agent,
    callbackAuth: rt.callbackAuthenticator(),
    lifecycle,
    audit: auditPort(() => rt.archive()),
    profiles: profilePort(() => rt.archive(), rt.config.archive.userIdSalt),
    logger,
    agents,
    ...(rt.config.webPubSub.mediaMode === 'realtime'
      ? {
          mediaTransportUrl: shardedMediaTransportUrlFactory(() => rt.webPubSubShards(), (callId, shard) => sessions.mediaShardAssigned(callId, shard), {
            maxCallDurationSeconds: rt.config.lifecycle.maxCallDurationSeconds,
          }),
        }
      : {}),
  };
}

export function auditPort(archive: () => Promise<Archive>): AuditPort {
  return {
    async append(entry) {
      const { idempotencyKey, ...event } = entry;
      await (await archive()).audit.append(event, idempotencyKey === undefined ? {} : { idempotencyKey });
    },
  };
}

/** `userIdSalt` is `config.archive.userIdSalt`: every path that turns a number into a user id must use the same one. */
export function profilePort(archive: () => Promise<Archive>, userIdSalt: string | undefined): ProfilePort {
  return {
    userIdFor: (phoneNumber) => userIdFromPhoneNumber(phoneNumber, userIdSalt),
    lookup: archiveProfileLookup(archive),
  };
}
