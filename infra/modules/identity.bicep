// The user-assigned identity the Function App uses for every data plane (DefaultAzureCredential with AZURE_CLIENT_ID).

@description('Name of the user-assigned managed identity.')
param name string

@description('Region of the identity.')
param location string

@description('Tags applied to the identity.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id, attached to the Function App.')
output id string = identity.id

@description('Client id: AZURE_CLIENT_ID and the AzureWebJobsStorage__clientId of the host.')
output clientId string = identity.properties.clientId

@description('Object id that every role assignment names.')
output principalId string = identity.properties.principalId
