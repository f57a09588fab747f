// Data-plane roles for a developer who runs the app on their own machine against this environment
// (`func start` or `npm run dev` with settings from `azd env get-values`). Deployed only when
// main.bicep's grantDeveloperAccess is true and APP_ENV is not prod: production grants nothing to people.
// The Cosmos DB and Redis grants are data-plane assignments of their own kind and live with their
// resources (cosmos.bicep, redis.bicep), behind the same switch.

@description('Object id of the developer (azd passes the signed-in principal as AZURE_PRINCIPAL_ID).')
param principalId string

@allowed(['User', 'ServicePrincipal', 'Group'])
@description('Kind of principal: User for `az login` as yourself, ServicePrincipal in a pipeline.')
param principalType string

@description('Storage account of the Functions host and the Durable task hub.')
param storageAccountName string

@description('Application Insights component.')
param appInsightsName string

@description('Web PubSub service carrying media.')
param webPubSubName string

@description('Communication Services resource (Call Automation).')
param communicationName string

@description('AI services account (Azure OpenAI + Speech).')
param aiServicesName string

@description('Key Vault holding the callback signing key and the user id salt.')
param keyVaultName string

// Built-in role definition ids (checked in test/infra/arm-specs.test.ts against a table with sources).
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  webPubSubServiceOwner: '12cf5a90-567b-43ae-8102-96cf46c7d9b4'
  // Call Automation with Entra ID has no narrower built-in role; scoped to the one ACS resource.
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c'
  cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
  cognitiveServicesUser: 'a97b65f3-24c7-4388-baec-2e87135dc908'
  // Reads the two secrets into local.settings.json (infra/scripts/local-settings-from-azd.ts).
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

var storageRoles = [
  roleIds.storageBlobDataOwner
  roleIds.storageQueueDataContributor
  roleIds.storageTableDataContributor
]

resource storageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRoles: {
    name: guid(storage.id, principalId, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: principalId
      principalType: principalType
    }
  }
]

resource telemetryAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: principalId
    principalType: principalType
  }
}

resource webPubSubAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(webPubSub.id, principalId, roleIds.webPubSubServiceOwner)
  scope: webPubSub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.webPubSubServiceOwner)
    principalId: principalId
    principalType: principalType
  }
}

resource callAutomationAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communication.id, principalId, roleIds.contributor)
  scope: communication
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.contributor)
    principalId: principalId
    principalType: principalType
  }
}

var aiRoles = [
  roleIds.cognitiveServicesOpenAiUser
  roleIds.cognitiveServicesUser
]

resource aiAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in aiRoles: {
    name: guid(aiServices.id, principalId, roleId)
    scope: aiServices
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: principalId
      principalType: principalType
    }
  }
]

resource secretsAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: principalId
    principalType: principalType
  }
}
