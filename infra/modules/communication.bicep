// Azure Communication Services with a system-assigned identity: ACS uses it to reach the AI services
// account for recognize/play (Cognitive Services User, granted in role-assignments.bicep).

@description('Communication Services resource name (1-63 letters, digits and dashes).')
param name string

@description('Tags applied to the resource.')
param tags object

@description('Data residency, e.g. "United States", "Europe", "UK".')
param dataLocation string

@description('Refuse access keys: Call Automation is reached with the app identity only. Set false to run `func start` against this resource with ACS_CONNECTION_STRING.')
param disableLocalAuth bool = true

resource acs 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: name
  // Communication Services is a global resource; dataLocation decides where data rests.
  location: 'global'
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    dataLocation: dataLocation
    disableLocalAuth: disableLocalAuth
  }
}

@description('Resource name.')
output name string = acs.name

@description('Endpoint, https://<name>.<geo>.communication.azure.com (ACS_ENDPOINT).')
output endpoint string = 'https://${acs.properties.hostName}'

@description('Immutable resource id: the audience of ACS-signed callback JWTs (ACS_JWT_AUDIENCE).')
output immutableResourceId string = acs.properties.immutableResourceId

@description('Object id of the system-assigned identity.')
output principalId string = acs.identity.principalId
