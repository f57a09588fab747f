/** Path below which the dev host serves the Durable Functions HTTP API (the extension's webhook path). */
export const DURABLE_WEBHOOK_PATH = '/runtime/webhooks/durabletask';

/**
 * The `durableClient` input binding's value, as the extension hands it to the worker: durable-functions'
 * `getClient` accepts it when `taskHubName`, `creationUrls` and `managementUrls` are present, and its
 * `DurableClient` then calls everything relative to `rpcBaseUrl` (start, raise event, status,
 * terminate, purge). The management URLs are what `createCheckStatusResponse` hands to callers.
 */
export interface DurableClientData {
  readonly taskHubName: string;
  readonly creationUrls: Record<string, string>;
  readonly managementUrls: Record<string, string>;
  readonly baseUrl: string;
  readonly requiredQueryStringParameters: string;
  readonly rpcBaseUrl: string;
  readonly httpBaseUrl: string;
}

export function durableClientData(hostBaseUrl: string, taskHubName: string): DurableClientData {
  const webhook = `${hostBaseUrl}${DURABLE_WEBHOOK_PATH}`;
  const query = `taskHub=${encodeURIComponent(taskHubName)}&connection=Storage`;
  const instance = `${webhook}/instances/INSTANCEID`;
  return {
    taskHubName,
    creationUrls: {
      createNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?${query}`,
      createAndWaitOnNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${query}`,
    },
    managementUrls: {
      id: 'INSTANCEID',
      statusQueryGetUri: `${instance}?${query}`,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}?${query}`,
      terminatePostUri: `${instance}/terminate?reason={text}&${query}`,
      rewindPostUri: `${instance}/rewind?reason={text}&${query}`,
      purgeHistoryDeleteUri: `${instance}?${query}`,
      restartPostUri: `${instance}/restart?${query}`,
      suspendPostUri: `${instance}/suspend?reason={text}&${query}`,
      resumePostUri: `${instance}/resume?reason={text}&${query}`,
    },
    baseUrl: webhook,
    requiredQueryStringParameters: query,
    rpcBaseUrl: `${webhook}/`,
    httpBaseUrl: webhook,
  };
}

/** The management payload for one instance (what `createHttpManagementPayload` returns). */
export function managementPayload(data: DurableClientData, instanceId: string): Record<string, string> {
  const payload: Record<string, string> = {};
  for (const [key, value] of Object.entries(data.managementUrls)) payload[key] = value.replace(data.managementUrls.id ?? 'INSTANCEID', instanceId);
  return payload;
}
