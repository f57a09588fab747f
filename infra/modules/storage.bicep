// Storage for the Functions host, the Durable Functions task hub and the Flex Consumption package.
// Shared keys are disabled: the host reaches it only through the app's managed identity.

@description('Storage account name (3-24 lowercase letters and digits).')
param name string

@description('Blob container holding the deployment package of the Flex Consumption app.')
param deploymentContainerName string

@description('Region of the account.')
param location string

@description('Tags applied to the account.')
param tags object

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Agent definitions when AGENTS_SOURCE=blob (npm run agents:publish -- --to blob). The app's Storage Blob
// Data Owner role on this account (role-assignments.bicep) covers reading it; no new role is needed.
resource agentDefinitionsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: 'agent-definitions'
  properties: {
    publicAccess: 'None'
  }
}

@description('Storage account name (AzureWebJobsStorage__accountName).')
output name string = account.name

@description('Blob endpoint, e.g. https://<name>.blob.core.windows.net/.')
output blobEndpoint string = account.properties.primaryEndpoints.blob

@description('Name of the container of the agent definitions (AGENTS_SOURCE=blob).')
output agentDefinitionsContainerName string = agentDefinitionsContainer.name
