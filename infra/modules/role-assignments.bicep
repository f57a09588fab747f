// Least-privilege data-plane roles, each scoped to the one resource it is for.
// The Cosmos DB role (sqlRoleAssignments) and the Redis access policy are data-plane assignments of
// their own kind and live with their resources (cosmos.bicep, redis.bicep).

@description('Object id of the app\'s user-assigned identity.')
param appPrincipalId string

@description('Storage account of the Functions host and the Durable task hub.')
param storageAccountName string

@description('Application Insights component the app sends telemetry to.')
param appInsightsName string

@description('Web PubSub service carrying media.')
param webPubSubName string

@description('Communication Services resource.')
param communicationName string

@description('Object id of the Communication Services system-assigned identity.')
param communicationPrincipalId string

@description('AI services account (Azure OpenAI + Speech).')
param aiServicesName string

@description('Key Vault holding the callback signing key and the user id salt.')
param keyVaultName string

@description('Name of the callback signing key secret; the app may read only this secret and the salt.')
param callbackSigningKeySecretName string

@description('Name of the user id salt secret.')
param userIdSaltSecretName string

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roleIds = {
  // The Functions host keeps keys, leases and the Flex deployment package in blobs.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Durable Functions work-item and control queues.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Durable Functions history and instance tables.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Entra-authenticated telemetry ingestion.
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Web PubSub REST API: client tokens, groups, send.
  webPubSubServiceOwner: '12cf5a90-567b-43ae-8102-96cf46c7d9b4'
  // Call Automation with Entra ID: no narrower built-in role exists; scoped to the one ACS resource.
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c'
  // Chat, realtime and tts inference (no management, no keys).
  cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
  // ACS → AI services for speech recognition and synthesis.
  cognitiveServicesUser: 'a97b65f3-24c7-4388-baec-2e87135dc908'
  // Read secret values (the Key Vault reference app settings).
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = {
  name: webPubSubName
}

resource communication 'Microsoft.Communication/communicationServices@2025-05-01' existing = {
  name: communicationName
}

resource aiServices 'Microsoft.CognitiveServices/accounts@2025-06-01' existing = {
  name: aiServicesName
}

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource callbackKey 'Microsoft.KeyVault/vaults/secrets@2024-11-01' existing = {
  parent: vault
  name: callbackSigningKeySecretName
}

resource userIdSaltSecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' existing = {
  parent: vault
  name: userIdSaltSecretName
}

var storageRoles = [
  roleIds.storageBlobDataOwner
  roleIds.storageQueueDataContributor
  roleIds.storageTableDataContributor
]

resource storageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRoles: {
    name: guid(storage.id, appPrincipalId, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource telemetryAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource webPubSubAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(webPubSub.id, appPrincipalId, roleIds.webPubSubServiceOwner)
  scope: webPubSub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.webPubSubServiceOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource callAutomationAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, appPrincipalId, roleIds.contributor)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.contributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource openAiAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(aiServices.id, appPrincipalId, roleIds.cognitiveServicesOpenAiUser)
  scope: aiServices
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.cognitiveServicesOpenAiUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource acsSpeechAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(aiServices.id, communicationPrincipalId, roleIds.cognitiveServicesUser)
  scope: aiServices
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.cognitiveServicesUser)
    principalId: communicationPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource signingKeyAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(callbackKey.id, appPrincipalId, roleIds.keyVaultSecretsUser)
  scope: callbackKey
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource userIdSaltAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(userIdSaltSecret.id, appPrincipalId, roleIds.keyVaultSecretsUser)
  scope: userIdSaltSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
