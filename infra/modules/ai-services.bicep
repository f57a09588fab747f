// Azure AI services account: Azure OpenAI models for the agent and Speech for ACS recognize/play.
// Key auth is disabled; the app (Cognitive Services OpenAI User) and ACS (Cognitive Services User)
// use their managed identities. ACS requires the custom subdomain to reach the account.

import { modelDeployment } from 'types.bicep'

@description('Account name; also its custom subdomain (2-64 lowercase letters, digits and dashes).')
param name string

@description('Region of the account: one where every model below is available.')
param location string

@description('Tags applied to the account.')
param tags object

@description('Model deployments (chat, realtime, tts).')
param deployments modelDeployment[]

resource account 'Microsoft.CognitiveServices/accounts@2025-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'AIServices'
  sku: { name: 'S0' }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

// One at a time: the service rejects concurrent deployment changes on one account.
@batchSize(1)
resource modelDeployments 'Microsoft.CognitiveServices/accounts/deployments@2025-06-01' = [
  for d in deployments: {
    parent: account
    name: d.name
    sku: {
      name: d.sku
      capacity: d.capacity
    }
    properties: {
      model: {
        format: 'OpenAI'
        name: d.model
        version: d.version
      }
      versionUpgradeOption: 'NoAutoUpgrade'
    }
  }
]

@description('Account name.')
output name string = account.name

@description('Cognitive services endpoint, https://<name>.cognitiveservices.azure.com/ (COGNITIVE_SERVICES_ENDPOINT).')
output endpoint string = account.properties.endpoint

@description('Azure OpenAI endpoint of the same account (AZURE_OPENAI_ENDPOINT).')
output openAiEndpoint string = 'https://${name}.openai.azure.com'
