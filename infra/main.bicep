// rtvoice: everything the Functions app needs in Azure, reached by managed identity.
//
// Two phases (see README, "Deploy"): the first provision creates every resource; after the code is
// deployed, the azd postdeploy hook provisions again with wireAppEndpoints=true, which points the
// Web PubSub hub and the Event Grid subscription at the running functions. Both need something that
// only exists once the code runs: the webpubsub_extension system key, and an incomingCall function
// that answers Event Grid's validation handshake.
targetScope = 'subscription'

import { modelDeployment } from 'modules/types.bicep'

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; part of the resource group name and of every resource name hash.')
param environmentName string

@minLength(1)
@description('Region of every regional resource. Must offer Flex Consumption and Azure Managed Redis (e.g. eastus2, swedencentral).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Region of the Azure AI services account; empty means location. Realtime models are only in a few regions (eastus2, swedencentral).')
param aiLocation string = ''

@description('Resource group name; empty means rg-<environmentName>.')
param resourceGroupName string = ''

@description('Data residency of the Communication Services resource, e.g. "United States", "Europe".')
param acsDataLocation string = 'United States'

// ---------------------------------------------------------------------------------------------
// Application behaviour (become app settings; see src/lib/config/settings.ts)
// ---------------------------------------------------------------------------------------------

@allowed(['dev', 'test', 'staging', 'prod'])
@description('APP_ENV: part of every Redis key; prod refuses key-based settings.')
param appEnv string = 'prod'

@allowed(['debug', 'info', 'warn', 'error'])
@description('LOG_LEVEL of the app\'s own logs.')
param logLevel string = 'info'

@allowed(['off', 'realtime'])
@description('MEDIA_MODE: realtime streams audio through Web PubSub to the relay; off uses ACS recognize/play turns.')
param mediaMode string = 'realtime'

@allowed(['pcm24KMono', 'pcm16KMono'])
@description('MEDIA_AUDIO_FORMAT of the media stream; 24 kHz needs no resampling for the realtime model.')
param mediaAudioFormat string = 'pcm24KMono'

@allowed(['offline', 'azure-openai'])
@description('AGENT_MODE: azure-openai uses the model deployments below; offline is the deterministic test responder.')
param agentMode string = 'azure-openai'

@allowed(['files', 'cosmos', 'blob'])
@description('AGENTS_SOURCE: files serves the agents/ folder of the package; cosmos serves the agentDefinitions container of the Cosmos DB database, blob the agent-definitions container of the app storage account (npm run agents:publish), re-checked every minute, so an agent changes without a redeploy.')
param agentsSource string = 'files'

@description('AGENT_VOICE: neural voice used by ACS text-to-speech.')
param agentVoice string = 'en-US-AvaMultilingualNeural'

@description('AGENT_LOCALE for recognition and synthesis.')
param agentLocale string = 'en-US'

@allowed(['jwt', 'signature', 'jwt+signature'])
@description('ACS_CALLBACK_AUTH: how ACS callbacks are authenticated (never neither).')
param acsCallbackAuth string = 'jwt+signature'

@description('ACS phone number (E.164, e.g. +18005550100) used as caller id and, when set, as the IncomingCall filter. Empty: no filter, no caller id.')
param acsPhoneNumber string = ''

@description('TRANSFER_TARGET_NUMBER (E.164) where transfer_to_human sends the caller; empty disables transfers.')
param transferTargetNumber string = ''

@minValue(60)
@maxValue(14400)
@description('MAX_CALL_DURATION_SECONDS: a call is hung up after this long.')
param maxCallDurationSeconds int = 3600

@minValue(0)
@maxValue(10)
@description('SILENCE_REPROMPTS before the agent says goodbye.')
param silenceReprompts int = 2

@minValue(1)
@maxValue(3650)
@description('AUDIT_TTL_DAYS: retention of audit documents; also the default TTL of the audit container.')
param auditTtlDays int = 365

@minLength(3)
@maxLength(45)
@description('DURABLE_TASK_HUB (host.json reads %DURABLE_TASK_HUB%): letters and digits, starting with a letter.')
param durableTaskHubName string = 'rtvoice'

@description('WEBPUBSUB_HUB carrying media; the system-event handler is configured on it.')
param webPubSubHubName string = 'media'

// ---------------------------------------------------------------------------------------------
// Sizing
// ---------------------------------------------------------------------------------------------

@minValue(0)
@maxValue(20)
@description('Always-ready instances of the main app\'s http group (IncomingCall and callbacks without a cold start). They run no relay.')
param alwaysReadyInstances int = 1

@minValue(0)
@maxValue(20)
@description('Media relays: always-ready instances of the relay app (RELAY_ENABLED=true, same code, its own Flex plan), each holding up to ~500 calls. Two keep a relay alive while the other is replaced; 0 provisions no relay app.')
param relayInstances int = 2

@allowed([2048, 4096])
@description('Memory of each relay instance, in MB (2048: 1 vCPU, 4096: 2 vCPU).')
param relayInstanceMemoryMB int = 2048

@description('RELAY_STANDBY: a standby relay per call keeps the caller\'s audio, so a relay that dies loses no caller turn; doubles the inbound Web PubSub messages. Needs relayInstances >= 2.')
param relayStandby bool = false

@minValue(1)
@maxValue(1000)
@description('Upper bound of Flex Consumption scale-out.')
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048

@description('Azure Managed Redis SKU, e.g. Balanced_B0 (dev), Balanced_B1, MemoryOptimized_M10.')
param redisSku string = 'Balanced_B1'

@description('Replicate Azure Managed Redis (SLA, survives a node loss); doubles its cost.')
param redisHighAvailability bool = true

@description('Cosmos DB serverless (pay per request). false: provisioned autoscale throughput shared by the database.')
param cosmosServerless bool = true

@minValue(1000)
@description('Autoscale maximum RU/s of the database when cosmosServerless is false.')
param cosmosAutoscaleMaxThroughput int = 1000

@allowed(['Free_F1', 'Standard_S1', 'Premium_P1'])
@description('Web PubSub SKU; Free_F1 has no SLA and 20 connections.')
param webPubSubSku string = 'Standard_S1'

@minValue(1)
@description('Web PubSub units per shard (1,000 connections and ~400 send-to-small-group inbound messages/s each; routing stops scaling at 50).')
param webPubSubUnits int = 1

@minValue(1)
@maxValue(20)
@description('Web PubSub resources calls are sharded across (WEBPUBSUB_ENDPOINTS); the routing limit is per resource.')
param webPubSubShards int = 1

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

@description('Azure OpenAI data-plane API version (AZURE_OPENAI_API_VERSION).')
param openAiApiVersion string = '2025-04-01-preview'

@description('Chat completions deployment (AZURE_OPENAI_CHAT_DEPLOYMENT).')
param chatModel modelDeployment = {
  name: 'gpt-4o-mini'
  model: 'gpt-4o-mini'
  version: '2024-07-18'
  sku: 'GlobalStandard'
  capacity: 50
}

@description('Realtime voice-to-voice deployment (AZURE_OPENAI_REALTIME_DEPLOYMENT).')
param realtimeModel modelDeployment = {
  name: 'gpt-realtime'
  model: 'gpt-realtime'
  version: '2025-08-28'
  sku: 'GlobalStandard'
  capacity: 10
}

@description('Text-to-speech deployment for fixed prompts (AZURE_OPENAI_TTS_DEPLOYMENT).')
param ttsModel modelDeployment = {
  name: 'gpt-4o-mini-tts'
  model: 'gpt-4o-mini-tts'
  version: '2025-03-20'
  sku: 'GlobalStandard'
  capacity: 10
}

// ---------------------------------------------------------------------------------------------
// Secrets and second phase
// ---------------------------------------------------------------------------------------------

@secure()
@description('Value of ACS_CALLBACK_SIGNING_KEY, used only when the Key Vault secret is created. Leave the default: a fresh random value generated at deployment, never seen by anyone.')
param acsCallbackSigningKey string = '${newGuid()}${newGuid()}'

@description('true once the signing-key secret exists, so later deployments keep it instead of rotating it (azd sets this from the ACS_CALLBACK_SIGNING_KEY_EXISTS output).')
param callbackSigningKeyExists bool = false

@secure()
@description('Value of USER_ID_SALT, used only when the Key Vault secret is created. Leave the default: a fresh random value generated at deployment, never seen by anyone.')
param userIdSalt string = '${newGuid()}${newGuid()}'

@description('true once the user id salt secret exists, so later deployments keep it: a new salt would orphan every caller profile (azd sets this from the USER_ID_SALT_EXISTS output).')
param userIdSaltExists bool = false

@description('Second phase: point the Web PubSub hub and the IncomingCall subscription at the deployed functions. Needs the code deployed first.')
param wireAppEndpoints bool = false

// ---------------------------------------------------------------------------------------------
// Developing against this environment (off in production)
// ---------------------------------------------------------------------------------------------

@description('Object id of the principal running azd (azd sets AZURE_PRINCIPAL_ID to the signed-in account). Used only with grantDeveloperAccess.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
@description('Kind of principalId: User when you ran `azd auth login` as yourself.')
param principalType string = 'User'

@description('Grant principalId the data-plane roles needed to run the app locally against this environment (Redis, Cosmos DB, Web PubSub, Call Automation, Azure OpenAI and Speech, the two Key Vault secrets, storage). Ignored when appEnv is prod.')
param grantDeveloperAccess bool = false

@description('Name of the HTTP function that receives IncomingCall events (route /api/<name>).')
param incomingCallFunctionName string = 'incomingCall'

// ---------------------------------------------------------------------------------------------
// Names: one place, so the naming rules can be checked (test/infra)
// ---------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName, app: 'rtvoice' }

var names = {
  resourceGroup: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourceGroup}${environmentName}'
  identity: '${abbrs.managedIdentity}${resourceToken}'
  storage: '${abbrs.storageAccount}${resourceToken}'
  deploymentContainer: 'app-package-${resourceToken}'
  relayDeploymentContainer: 'relay-package-${resourceToken}'
  logAnalytics: '${abbrs.logAnalyticsWorkspace}${resourceToken}'
  appInsights: '${abbrs.applicationInsights}${resourceToken}'
  keyVault: '${abbrs.keyVault}${resourceToken}'
  redis: '${abbrs.managedRedis}${resourceToken}'
  cosmos: '${abbrs.cosmosAccount}${resourceToken}'
  webPubSub: '${abbrs.webPubSub}${resourceToken}'
  communication: '${abbrs.communicationServices}${resourceToken}'
  aiServices: '${abbrs.aiServices}${resourceToken}'
  plan: '${abbrs.appServicePlan}${resourceToken}'
  functionApp: '${abbrs.functionApp}${resourceToken}'
  relayPlan: '${abbrs.appServicePlan}relay-${resourceToken}'
  relayApp: '${abbrs.functionApp}relay-${resourceToken}'
  systemTopic: '${abbrs.eventGridSystemTopic}acs-${resourceToken}'
}

// Production never grants people data-plane access, whatever the parameter says.
var developerPrincipalId = grantDeveloperAccess && appEnv != 'prod' ? principalId : ''

// Web PubSub shards beyond the first (shard 0 is names.webPubSub).
var extraWebPubSubShards = [for shard in range(1, webPubSubShards - 1): '${names.webPubSub}-${shard}']

var callbackSigningKeySecretName = 'acs-callback-signing-key'
var userIdSaltSecretName = 'user-id-salt'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    deploymentContainerName: names.deploymentContainer
    location: location
    tags: tags
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  scope: rg
  params: {
    name: names.keyVault
    location: location
    tags: tags
    callbackSigningKeySecretName: callbackSigningKeySecretName
    callbackSigningKey: acsCallbackSigningKey
    createCallbackSigningKey: !callbackSigningKeyExists
    userIdSaltSecretName: userIdSaltSecretName
    userIdSalt: userIdSalt
    createUserIdSalt: !userIdSaltExists
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  scope: rg
  params: {
    name: names.redis
    location: location
    tags: tags
    skuName: redisSku
    highAvailability: redisHighAvailability
    appPrincipalId: identity.outputs.principalId
    developerPrincipalId: developerPrincipalId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: names.cosmos
    location: location
    tags: tags
    serverless: cosmosServerless
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    auditTtlDays: auditTtlDays
    appPrincipalId: identity.outputs.principalId
    developerPrincipalId: developerPrincipalId
  }
}

module aiServices 'modules/ai-services.bicep' = {
  name: 'ai-services'
  scope: rg
  params: {
    name: names.aiServices
    location: empty(aiLocation) ? location : aiLocation
    tags: tags
    deployments: [chatModel, realtimeModel, ttsModel]
  }
}

module communication 'modules/communication.bicep' = {
  name: 'communication'
  scope: rg
  params: {
    name: names.communication
    tags: tags
    dataLocation: acsDataLocation
  }
}

module webPubSub 'modules/web-pubsub.bicep' = {
  name: 'web-pubsub'
  scope: rg
  params: {
    name: names.webPubSub
    location: location
    tags: tags
    skuName: webPubSubSku
    units: webPubSubUnits
  }
}

module mediaScale 'modules/media-scale.bicep' = {
  name: 'media-scale'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    relayDeploymentContainerName: names.relayDeploymentContainer
    extraShardNames: extraWebPubSubShards
    location: location
    tags: tags
    skuName: webPubSubSku
    unitsPerShard: webPubSubUnits
    appPrincipalId: identity.outputs.principalId
  }
}

var webPubSubEndpoints = concat([webPubSub.outputs.endpoint], mediaScale.outputs.endpoints)

module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    webPubSubName: webPubSub.outputs.name
    communicationName: communication.outputs.name
    communicationPrincipalId: communication.outputs.principalId
    aiServicesName: aiServices.outputs.name
    keyVaultName: keyVault.outputs.name
    callbackSigningKeySecretName: callbackSigningKeySecretName
    userIdSaltSecretName: userIdSaltSecretName
  }
}

module developerAccess 'modules/developer-access.bicep' = if (!empty(developerPrincipalId)) {
  name: 'developer-access'
  scope: rg
  params: {
    principalId: developerPrincipalId
    principalType: principalType
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    webPubSubName: webPubSub.outputs.name
    communicationName: communication.outputs.name
    aiServicesName: aiServices.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    planName: names.plan
    name: names.functionApp
    serviceName: 'api'
    callbackBaseUrl: ''
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: names.deploymentContainer
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    alwaysReadyInstances: alwaysReadyInstances
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    durableTaskHubName: durableTaskHubName
    appEnv: appEnv
    logLevel: logLevel
    redisHost: redis.outputs.hostName
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    auditTtlDays: auditTtlDays
    acsEndpoint: communication.outputs.endpoint
    acsImmutableResourceId: communication.outputs.immutableResourceId
    acsCallbackAuth: acsCallbackAuth
    callbackSigningKeySecretUri: keyVault.outputs.callbackSigningKeySecretUri
    userIdSaltSecretUri: keyVault.outputs.userIdSaltSecretUri
    acsSourceNumber: acsPhoneNumber
    transferTargetNumber: transferTargetNumber
    cognitiveServicesEndpoint: aiServices.outputs.endpoint
    agentVoice: agentVoice
    agentsSource: agentsSource
    agentLocale: agentLocale
    webPubSubEndpoint: webPubSub.outputs.endpoint
    webPubSubEndpoints: webPubSubEndpoints
    webPubSubHubName: webPubSubHubName
    mediaMode: mediaMode
    mediaAudioFormat: mediaAudioFormat
    // The main app scales on demand: it never runs a relay (see relayApp).
    relayEnabled: false
    relayStandby: false
    agentMode: agentMode
    openAiEndpoint: aiServices.outputs.openAiEndpoint
    openAiApiVersion: openAiApiVersion
    chatDeploymentName: chatModel.name
    realtimeDeploymentName: realtimeModel.name
    ttsDeploymentName: ttsModel.name
    maxCallDurationSeconds: maxCallDurationSeconds
    silenceReprompts: silenceReprompts
  }
  // The host reaches its storage and the Key Vault references resolve only once the roles exist.
  dependsOn: [roles]
}

// The relay app: the same package, RELAY_ENABLED=true, its own Flex plan (one app per plan), and only
// always-ready instances: nothing triggers it (no handler, Event Grid or callback points at it, and its
// durable functions use a task hub of their own that stays empty), so it never scales out on demand.
module relayApp 'modules/function-app.bicep' = if (relayInstances > 0) {
  name: 'relay-app'
  scope: rg
  params: {
    planName: names.relayPlan
    name: names.relayApp
    serviceName: 'relay'
    callbackBaseUrl: functionApp.outputs.url
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: names.relayDeploymentContainer
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    alwaysReadyInstances: relayInstances
    // The plan's lowest maximum; on-demand instances never come, as nothing triggers the app.
    maximumInstanceCount: 40
    instanceMemoryMB: relayInstanceMemoryMB
    // A task hub of its own (3-45 letters and digits, starting with a letter), never the main app's.
    durableTaskHubName: 'relay${take(durableTaskHubName, 40)}'
    appEnv: appEnv
    logLevel: logLevel
    redisHost: redis.outputs.hostName
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    auditTtlDays: auditTtlDays
    acsEndpoint: communication.outputs.endpoint
    acsImmutableResourceId: communication.outputs.immutableResourceId
    acsCallbackAuth: acsCallbackAuth
    callbackSigningKeySecretUri: keyVault.outputs.callbackSigningKeySecretUri
    userIdSaltSecretUri: keyVault.outputs.userIdSaltSecretUri
    acsSourceNumber: acsPhoneNumber
    transferTargetNumber: transferTargetNumber
    cognitiveServicesEndpoint: aiServices.outputs.endpoint
    agentVoice: agentVoice
    agentsSource: agentsSource
    agentLocale: agentLocale
    webPubSubEndpoint: webPubSub.outputs.endpoint
    webPubSubEndpoints: webPubSubEndpoints
    webPubSubHubName: webPubSubHubName
    mediaMode: mediaMode
    mediaAudioFormat: mediaAudioFormat
    relayEnabled: true
    relayStandby: relayStandby
    agentMode: agentMode
    openAiEndpoint: aiServices.outputs.openAiEndpoint
    openAiApiVersion: openAiApiVersion
    chatDeploymentName: chatModel.name
    realtimeDeploymentName: realtimeModel.name
    ttsDeploymentName: ttsModel.name
    maxCallDurationSeconds: maxCallDurationSeconds
    silenceReprompts: silenceReprompts
  }
  // The host reaches its storage and the Key Vault references resolve only once the roles exist.
  dependsOn: [roles, mediaScale]
}

module appWiring 'modules/app-wiring.bicep' = {
  name: 'app-wiring'
  scope: rg
  dependsOn: [mediaScale]
  params: {
    functionAppName: functionApp.outputs.name
    webPubSubName: webPubSub.outputs.name
    extraWebPubSubNames: extraWebPubSubShards
    webPubSubHubName: webPubSubHubName
    communicationName: communication.outputs.name
    systemTopicName: names.systemTopic
    tags: tags
    wireAppEndpoints: wireAppEndpoints
    incomingCallFunctionName: incomingCallFunctionName
    incomingCallPhoneNumber: acsPhoneNumber
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs: every endpoint (azd writes them to .azure/<env>/.env). No keys, no secrets.
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CLIENT_ID string = identity.outputs.clientId
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.url
output ACS_CALLBACK_BASE_URL string = functionApp.outputs.url
output INCOMING_CALL_URL string = '${functionApp.outputs.url}/api/${incomingCallFunctionName}'
output WEBPUBSUB_EVENT_HANDLER_URL string = '${functionApp.outputs.url}/runtime/webhooks/webpubsub'
output APP_ENDPOINTS_WIRED bool = wireAppEndpoints
output REDIS_HOST string = redis.outputs.hostName
output REDIS_PORT int = redis.outputs.port
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output COSMOS_DATABASE string = cosmos.outputs.databaseName
output ACS_ENDPOINT string = communication.outputs.endpoint
output ACS_RESOURCE_NAME string = communication.outputs.name
output ACS_JWT_AUDIENCE string = communication.outputs.immutableResourceId
output EVENT_GRID_SYSTEM_TOPIC string = appWiring.outputs.systemTopicName
output WEBPUBSUB_ENDPOINT string = webPubSub.outputs.endpoint
output WEBPUBSUB_ENDPOINTS string = join(webPubSubEndpoints, ',')
output SERVICE_RELAY_NAME string = relayInstances > 0 ? relayApp.outputs.name : ''
output WEBPUBSUB_HUB string = webPubSubHubName
output COGNITIVE_SERVICES_ENDPOINT string = aiServices.outputs.endpoint
output AZURE_OPENAI_ENDPOINT string = aiServices.outputs.openAiEndpoint
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.endpoint
output ACS_CALLBACK_SIGNING_KEY_EXISTS bool = true
output USER_ID_SALT_EXISTS bool = true
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
output APP_ENV string = appEnv
output DEVELOPER_ACCESS_GRANTED bool = !empty(developerPrincipalId)
