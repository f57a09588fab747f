// A Function App on Flex Consumption (Linux, Node.js 22) with one always-ready group (http). main.bicep
// deploys it twice from the same package: the main app (serviceName api, RELAY_ENABLED=false, scales
// on demand) and the relay app (serviceName relay, RELAY_ENABLED=true, only always-ready instances).
//
// appSettings below is the complete list of settings the app and the host read in Azure. It must stay
// one literal object: test/infra/settings-consistency.test.ts parses it and compares it with
// src/lib/config/settings.ts, host.json and local.settings.sample.json.
// FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION are deliberately absent: Flex Consumption
// takes the runtime from functionAppConfig.runtime and rejects those two as app settings.

@description('Name of the Flex Consumption plan.')
param planName string

@description('Function App name (2-60 letters, digits and dashes); part of its default host name.')
param name string

@allowed(['api', 'relay'])
@description('azd service deployed to this app (azure.yaml): api (the main app) or relay.')
param serviceName string

@description('ACS_CALLBACK_BASE_URL: the main app\'s URL; empty means this app\'s own (the main app).')
param callbackBaseUrl string

@description('Region of the plan and the app.')
param location string

@description('Tags applied to both; the app also gets azd-service-name=api.')
param tags object

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

@description('Storage account of the host and the Durable task hub (identity-based connection).')
param storageAccountName string

@description('Blob endpoint of that account.')
param storageBlobEndpoint string

@description('Container holding the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string (ingestion address; local auth is disabled).')
param appInsightsConnectionString string

@minValue(0)
@description('Always-ready instances of the http group (in the relay app, the relays: started from app.hook.appStart).')
param alwaysReadyInstances int

@minValue(1)
@maxValue(1000)
@description('Upper bound of scale-out.')
param maximumInstanceCount int

@allowed([512, 2048, 4096])
@description('Memory per instance, in MB.')
param instanceMemoryMB int

@description('Durable Functions task hub name (host.json reads %DURABLE_TASK_HUB%).')
param durableTaskHubName string

@description('APP_ENV.')
param appEnv string

@description('LOG_LEVEL.')
param logLevel string

@description('Azure Managed Redis host name.')
param redisHost string

@description('Cosmos DB endpoint.')
param cosmosEndpoint string

@description('Cosmos DB database name.')
param cosmosDatabaseName string

@description('AUDIT_TTL_DAYS.')
param auditTtlDays int

@description('Communication Services endpoint.')
param acsEndpoint string

@description('Immutable resource id of the Communication Services resource (JWT audience).')
param acsImmutableResourceId string

@description('ACS_CALLBACK_AUTH.')
param acsCallbackAuth string

@description('Versionless Key Vault URI of the callback signing key.')
param callbackSigningKeySecretUri string

@description('Versionless Key Vault URI of the user id salt.')
param userIdSaltSecretUri string

@description('ACS_SOURCE_NUMBER (E.164) or empty.')
param acsSourceNumber string

@description('TRANSFER_TARGET_NUMBER (E.164) or empty.')
param transferTargetNumber string

@description('AI services endpoint used by ACS for speech.')
param cognitiveServicesEndpoint string

@description('AGENT_VOICE.')
param agentVoice string

@allowed(['files', 'cosmos', 'blob'])
@description('AGENTS_SOURCE.')
param agentsSource string

@description('AGENT_LOCALE.')
param agentLocale string

@description('Web PubSub endpoint (shard 0).')
param webPubSubEndpoint string

@description('Every Web PubSub shard\'s endpoint, shard 0 first.')
param webPubSubEndpoints array

@description('Web PubSub hub carrying media.')
param webPubSubHubName string

@description('MEDIA_MODE.')
param mediaMode string

@description('MEDIA_AUDIO_FORMAT.')
param mediaAudioFormat string

@description('RELAY_ENABLED.')
param relayEnabled bool

@description('RELAY_STANDBY (relay app only).')
param relayStandby bool = false

@description('AGENT_MODE.')
param agentMode string

@description('Azure OpenAI endpoint.')
param openAiEndpoint string

@description('AZURE_OPENAI_API_VERSION.')
param openAiApiVersion string

@description('AZURE_OPENAI_CHAT_DEPLOYMENT.')
param chatDeploymentName string

@description('AZURE_OPENAI_REALTIME_DEPLOYMENT.')
param realtimeDeploymentName string

@description('AZURE_OPENAI_TTS_DEPLOYMENT.')
param ttsDeploymentName string

@description('MAX_CALL_DURATION_SECONDS.')
param maxCallDurationSeconds int

@description('SILENCE_REPROMPTS.')
param silenceReprompts int

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve with the user-assigned identity, not a system identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReadyInstances > 0 ? [{ name: 'http', instanceCount: alwaysReadyInstances }] : []
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// Publishing with basic (user/password) credentials is off; azd and Core Tools deploy with Entra ID.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    // Functions host: storage and the Durable task hub by identity (no connection string, no key).
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    DURABLE_TASK_HUB: durableTaskHubName
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // Node flags of the worker: the host adds this setting, split on white space, to the worker's node
    // command line (azure-functions-host src/WebJobs.Script/Workers/Rpc/Configuration/
    // WorkerConfigurationHelper.cs, AddArgumentsFromAppSettings; documented for Azure in
    // https://learn.microsoft.com/azure/azure-functions/functions-reference-node, "Worker environment
    // variables", which warns it costs cold start: no prewarmed worker). Not among the Flex Consumption
    // deprecations (functions-app-settings#flex-consumption-plan-deprecations); not verified on Flex here.
    // 32 MB semi-spaces: the lowest callback p99 and scavenge time of 4-128 MB, measured A/B in
    // bench/results/callbacks-young-generation.json (README "Benchmarks").
    languageWorkers__node__arguments: '--max-semi-space-size=32'

    // App: every setting of src/lib/config/settings.ts except the key-based `scope: 'local'` ones.
    APP_ENV: appEnv
    REDIS_KEY_PREFIX: 'rtvoice'
    LOG_LEVEL: logLevel
    REDIS_HOST: redisHost
    REDIS_PORT: '10000'
    REDIS_TLS: 'true'
    REDIS_CLUSTER: 'true'
    REDIS_AUTH: 'entra'
    REDIS_COMMAND_TIMEOUT_MS: '250'
    REDIS_CONNECT_TIMEOUT_MS: '2000'
    AZURE_CLIENT_ID: identityClientId
    COSMOS_ENDPOINT: cosmosEndpoint
    COSMOS_DATABASE: cosmosDatabaseName
    AUDIT_TTL_DAYS: string(auditTtlDays)
    USER_ID_SALT: '@Microsoft.KeyVault(SecretUri=${userIdSaltSecretUri})'
    ACS_ENDPOINT: acsEndpoint
    ACS_CALLBACK_BASE_URL: empty(callbackBaseUrl) ? 'https://${site.properties.defaultHostName}' : callbackBaseUrl
    ACS_CALLBACK_AUTH: acsCallbackAuth
    ACS_CALLBACK_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${callbackSigningKeySecretUri})'
    ACS_JWT_ISSUER: 'https://acscallautomation.communication.azure.com'
    ACS_JWT_AUDIENCE: acsImmutableResourceId
    ACS_JWT_MAX_LIFETIME_SECONDS: '900'
    ACS_JWKS_URL: 'https://acscallautomation.communication.azure.com/calling/keys'
    ACS_SOURCE_NUMBER: acsSourceNumber
    TRANSFER_TARGET_NUMBER: transferTargetNumber
    COGNITIVE_SERVICES_ENDPOINT: cognitiveServicesEndpoint
    AGENT_VOICE: agentVoice
    AGENTS_DIR: 'agents'
    AGENTS_SOURCE: agentsSource
    // The container cosmos.bicep creates; the app reads it with its Data Contributor role on the database.
    AGENTS_COSMOS_CONTAINER: 'agentDefinitions'
    // The container storage.bicep creates on the app's storage account (read with its Blob Data Owner role).
    AGENTS_BLOB_CONTAINER_URL: '${storageBlobEndpoint}agent-definitions'
    AGENTS_REFRESH_SECONDS: '60'
    AGENT_LOCALE: agentLocale
    WEBPUBSUB_ENDPOINT: webPubSubEndpoint
    WEBPUBSUB_ENDPOINTS: join(webPubSubEndpoints, ',')
    WEBPUBSUB_HUB: webPubSubHubName
    MEDIA_MODE: mediaMode
    MEDIA_AUDIO_FORMAT: mediaAudioFormat
    RELAY_ENABLED: relayEnabled ? 'true' : 'false'
    RELAY_STANDBY: relayStandby ? 'true' : 'false'
    AGENT_MODE: agentMode
    AZURE_OPENAI_ENDPOINT: openAiEndpoint
    AZURE_OPENAI_API_VERSION: openAiApiVersion
    AZURE_OPENAI_CHAT_DEPLOYMENT: chatDeploymentName
    AZURE_OPENAI_REALTIME_DEPLOYMENT: realtimeDeploymentName
    AZURE_OPENAI_TTS_DEPLOYMENT: ttsDeploymentName
    MAX_CALL_DURATION_SECONDS: string(maxCallDurationSeconds)
    SILENCE_REPROMPTS: string(silenceReprompts)
    LIMIT_RECOGNIZED_TEXT_CHARS: '2000'
    LIMIT_DTMF_TONES: '64'
    LIMIT_TOOL_ARGUMENTS_CHARS: '4096'
    LIMIT_MODEL_OUTPUT_CHARS: '4000'
    TURN_BUDGET_MS: '6000'
    LIMIT_CONTEXT_FIELD_CHARS: '512'
    ARCHIVE_RETRY_HORIZON_SECONDS: '86400'
  }
}

@description('Function App name.')
output name string = site.name

@description('Public base URL, https://<default host name> (ACS_CALLBACK_BASE_URL).')
output url string = 'https://${site.properties.defaultHostName}'
