// Points Azure at the deployed functions: the Web PubSub hub's system-event handler and the Event Grid
// IncomingCall subscription. Both are second-phase (wireAppEndpoints=true, after the code is deployed):
//  - the handler URL carries the webpubsub_extension system key, which the Functions host creates
//    only once it has loaded the Web PubSub extension, i.e. after a deployment with a
//    webPubSubTrigger function;
//  - Event Grid creates a webhook subscription only after the endpoint answers its validation
//    handshake, which the incomingCall function does.
// Keys are read with listKeys at deployment time and go straight into the target resources; they
// never appear in a parameter or an output.

@description('Deployed Function App.')
param functionAppName string

@description('Web PubSub service.')
param webPubSubName string

@description('Web PubSub shards beyond the first (media-scale.bicep), each given the same hub and handler.')
param extraWebPubSubNames array = []

@description('Hub carrying media (WEBPUBSUB_HUB).')
param webPubSubHubName string

@description('Communication Services resource whose events are subscribed to.')
param communicationName string

@description('Name of the Event Grid system topic of the Communication Services resource.')
param systemTopicName string

@description('Tags applied to the system topic.')
param tags object

@description('Wire the handler and the subscription (the code must be deployed).')
param wireAppEndpoints bool

@description('HTTP function receiving IncomingCall (Event Grid schema, route /api/<name>, function key).')
param incomingCallFunctionName string

@description('E.164 number; when set, only calls to it are delivered (advanced filter on data.to.PhoneNumber.Value).')
param incomingCallPhoneNumber string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName

  resource host 'host' existing = {
    name: 'default'
  }

  resource incomingCall 'functions' existing = {
    name: incomingCallFunctionName
  }
}

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = {
  name: webPubSubName
}

resource communication 'Microsoft.Communication/communicationServices@2025-05-01' existing = {
  name: communicationName
}

var appBaseUrl = 'https://${site.properties.defaultHostName}'

// The hub is declared only here, so a second-phase deployment never flips its handlers back.
resource mediaHub 'Microsoft.SignalRService/webPubSub/hubs@2024-03-01' = {
  parent: webPubSub
  name: webPubSubHubName
  properties: {
    anonymousConnectPolicy: 'Deny'
    // Only the low-volume system events go upstream; media frames stay inside Web PubSub groups.
    eventHandlers: wireAppEndpoints ? [
      {
        urlTemplate: '${appBaseUrl}/runtime/webhooks/webpubsub?code=${site::host.listKeys().systemKeys.webpubsub_extension}'
        systemEvents: ['connected', 'disconnected']
      }
    ] : []
  }
}

resource extraShards 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = [
  for shardName in extraWebPubSubNames: {
    name: shardName
  }
]

resource extraShardHubs 'Microsoft.SignalRService/webPubSub/hubs@2024-03-01' = [
  for (shardName, i) in extraWebPubSubNames: {
    parent: extraShards[i]
    name: webPubSubHubName
    properties: {
      anonymousConnectPolicy: 'Deny'
      eventHandlers: wireAppEndpoints ? [
        {
          urlTemplate: '${appBaseUrl}/runtime/webhooks/webpubsub?code=${site::host.listKeys().systemKeys.webpubsub_extension}'
          systemEvents: ['connected', 'disconnected']
        }
      ] : []
    }
  }
]

// Communication Services is global, so is its system topic.
resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  properties: {
    source: communication.id
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

resource incomingCallSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (wireAppEndpoints) {
  parent: systemTopic
  name: 'incoming-call'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        // Write-only in ARM: Event Grid never returns the query string.
        endpointUrl: '${appBaseUrl}/api/${incomingCallFunctionName}?code=${site::incomingCall.listKeys().default}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Communication.IncomingCall']
      advancedFilters: empty(incomingCallPhoneNumber) ? [] : [
        {
          operatorType: 'StringIn'
          key: 'data.to.PhoneNumber.Value'
          values: [incomingCallPhoneNumber]
        }
      ]
    }
    // A call not answered within seconds is lost anyway; redelivering it minutes later helps no one.
    retryPolicy: {
      maxDeliveryAttempts: 3
      eventTimeToLiveInMinutes: 1
    }
  }
}

@description('Name of the Event Grid system topic.')
output systemTopicName string = systemTopic.name

@description('Whether the hub handler and the IncomingCall subscription point at the app.')
output wired bool = wireAppEndpoints
