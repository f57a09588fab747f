// The media path's scale-out (see README, "Media hosting" and "Capacity and cost"):
//  - the relay app's deployment-package container (the relay Function App is the same code on a Flex
//    plan of its own; Flex allows one app per plan, and each app deploys into its own container);
//  - the Web PubSub shards beyond the first (shard 0 is web-pubsub.bicep + app-wiring.bicep). Calls
//    are assigned to shards by hash at answer time; every relay connects to every shard. The send-to-
//    small-group routing limit is per resource (about 15,000 inbound messages/s, reached at 50 units),
//    so beyond one resource capacity grows only by adding resources.
// Each extra shard gets the app identity's Web PubSub Service Owner role here, and the media hub with
// the system-event handler in app-wiring.bicep (second phase, with shard 0's).

@description('Storage account of the host (holds the deployment containers).')
param storageAccountName string

@description('Container holding the relay app\'s deployment package.')
param relayDeploymentContainerName string

@description('Names of the Web PubSub shards beyond the first (shard 1 onwards).')
param extraShardNames array

@description('Region of the shards.')
param location string

@description('Tags applied to the shards.')
param tags object

@allowed(['Free_F1', 'Standard_S1', 'Premium_P1'])
@description('SKU of every shard.')
param skuName string

@minValue(1)
@description('Units of every shard.')
param unitsPerShard int

@description('Object id of the app identity.')
param appPrincipalId string

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'
  }
}

resource relayPackage 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: account::blobService
  name: relayDeploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

module shards 'web-pubsub.bicep' = [
  for shardName in extraShardNames: {
    name: 'web-pubsub-${shardName}'
    params: {
      name: shardName
      location: location
      tags: tags
      skuName: skuName
      units: unitsPerShard
    }
  }
]

resource shardServices 'Microsoft.SignalRService/webPubSub@2024-03-01' existing = [
  for shardName in extraShardNames: {
    name: shardName
  }
]

// Web PubSub Service Owner (client tokens, groups, send), as on shard 0.
var webPubSubServiceOwnerRoleId = '12cf5a90-567b-43ae-8102-96cf46c7d9b4'

resource shardAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (shardName, i) in extraShardNames: {
    name: guid(shardServices[i].id, appPrincipalId, webPubSubServiceOwnerRoleId)
    scope: shardServices[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', webPubSubServiceOwnerRoleId)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
    dependsOn: [shards]
  }
]

@description('Endpoints of the extra shards, in shard order (shard 1 onwards).')
output endpoints array = [for (shardName, i) in extraShardNames: shards[i].outputs.endpoint]
