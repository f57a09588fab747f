// Azure Web PubSub terminating the media WebSocket of ACS. Access keys are disabled: the app mints
// client tokens and calls the REST API with its identity (Web PubSub Service Owner). The hub and its
// event handler live in app-wiring.bicep, because the handler needs the deployed function app.

@description('Web PubSub resource name (3-63 letters, digits and dashes).')
param name string

@description('Region of the service.')
param location string

@description('Tags applied to the service.')
param tags object

@allowed(['Free_F1', 'Standard_S1', 'Premium_P1'])
@description('SKU name.')
param skuName string

@minValue(1)
@description('Units (1,000 concurrent connections each).')
param units int

resource service 'Microsoft.SignalRService/webPubSub@2024-03-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: split(skuName, '_')[0]
    capacity: units
  }
  properties: {
    disableLocalAuth: true
    disableAadAuth: false
    publicNetworkAccess: 'Enabled'
    tls: {
      clientCertEnabled: false
    }
  }
}

@description('Resource name.')
output name string = service.name

@description('Endpoint, https://<name>.webpubsub.azure.com (WEBPUBSUB_ENDPOINT).')
output endpoint string = 'https://${service.properties.hostName}'
