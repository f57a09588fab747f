// Azure Managed Redis: TLS only, Microsoft Entra ID only (access keys disabled), OSS cluster policy.
// The client (src/lib/state/redis-client.ts) connects with REDIS_CLUSTER=true, REDIS_TLS=true,
// REDIS_PORT=10000 and REDIS_AUTH=entra; test/infra checks that these stay consistent.

@description('Azure Managed Redis cluster name.')
param name string

@description('Region of the cache.')
param location string

@description('Tags applied to the cache.')
param tags object

@description('SKU, e.g. Balanced_B0, Balanced_B1, MemoryOptimized_M10.')
param skuName string

@description('Replicate data across two nodes (SLA); disabling halves the cost and loses data on a node failure.')
param highAvailability bool

@allowed(['NoEviction', 'VolatileLRU', 'AllKeysLRU'])
@description('What Redis does when memory is full. NoEviction: writes fail (the state layer journals them) instead of silently dropping call state.')
param evictionPolicy string = 'NoEviction'

@description('Object id of the app identity given the default data access policy.')
param appPrincipalId string

@description('Object id of a developer given the same access policy (developer access); empty: none.')
param developerPrincipalId string = ''

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
    // Required on create since 2025-07-01. Enabled: the Functions app reaches it without a VNet, and
    // access is Entra ID only (access keys disabled on the database).
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'OSSCluster'
    evictionPolicy: evictionPolicy
    accessKeysAuthentication: 'Disabled'
  }
}

resource appAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: database
  name: 'rtvoiceapp'
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: appPrincipalId
    }
  }
}

// Assignment names allow letters and digits only (1-60).
resource developerAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = if (!empty(developerPrincipalId)) {
  parent: database
  name: 'dev${uniqueString(developerPrincipalId)}'
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: developerPrincipalId
    }
  }
  // The service applies one access policy assignment change at a time per database.
  dependsOn: [appAccess]
}

@description('Host name, <name>.<region>.redis.azure.net (REDIS_HOST).')
output hostName string = cluster.properties.hostName

@description('TLS port of the database (REDIS_PORT).')
output port int = database.properties.port
