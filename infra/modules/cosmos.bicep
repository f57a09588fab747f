// Cosmos DB for NoSQL holding the call archive. Local (key) auth is disabled: the app identity is the
// only writer, through the built-in Data Contributor role scoped to the rtvoice database.

@description('Cosmos DB account name (3-44 lowercase letters, digits and dashes).')
param name string

@description('Region of the account.')
param location string

@description('Tags applied to the account.')
param tags object

@description('Serverless (pay per request) or provisioned autoscale throughput.')
param serverless bool

@minValue(1000)
@description('Autoscale maximum RU/s shared by the database; ignored when serverless.')
param autoscaleMaxThroughput int

@minValue(1)
@maxValue(3650)
@description('Default TTL of audit documents, in days (the app reads the same value as AUDIT_TTL_DAYS).')
param auditTtlDays int

@description('Object id of the app identity.')
param appPrincipalId string

@description('Object id of a developer given the same data-plane role (developer access); empty: none.')
param developerPrincipalId string = ''

@description('Database name (COSMOS_DATABASE).')
param databaseName string = 'rtvoice'

// Partition keys the archive writes with (docs/data-model.md).
// Only audit expires by default; the other containers keep documents until the app deletes them.
var containers = [
  { name: 'transcripts', partitionKey: '/callId', ttl: {} }
  { name: 'profiles', partitionKey: '/userId', ttl: {} }
  { name: 'analytics', partitionKey: '/day', ttl: {} }
  { name: 'audit', partitionKey: '/callId', ttl: { defaultTtl: auditTtlDays * 86400 } }
]

// Cosmos DB Built-in Data Contributor (data plane: read and write items, no account management).
var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [
      { locationName: location, failoverPriority: 0, isZoneRedundant: false }
    ]
    capabilities: serverless ? [{ name: 'EnableServerless' }] : []
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: { id: databaseName }
    options: serverless ? {} : { autoscaleSettings: { maxThroughput: autoscaleMaxThroughput } }
  }
}

resource archiveContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for c in containers: {
    parent: database
    name: c.name
    properties: {
      resource: union({ id: c.name, partitionKey: { paths: [c.partitionKey], kind: 'Hash', version: 2 } }, c.ttl)
    }
  }
]

// Agent definitions when AGENTS_SOURCE=cosmos: one document per file, partitioned by scenario folder
// (src/lib/agents/sources.ts). The app only reads it; reading needs no more than Cosmos DB Built-in
// Data Reader (00000000-0000-0000-0000-000000000001), which the Data Contributor assignment below on
// the whole database already includes, so no assignment of its own. `npm run agents:publish` writes it.
resource agentDefinitionsContainer 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: 'agentDefinitions'
  properties: {
    resource: { id: 'agentDefinitions', partitionKey: { paths: ['/scenario'], kind: 'Hash', version: 2 } }
  }
}

resource appDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: account
  name: guid(account.id, appPrincipalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
    principalId: appPrincipalId
    scope: '${account.id}/dbs/${databaseName}'
  }
}

resource developerDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = if (!empty(developerPrincipalId)) {
  parent: account
  name: guid(account.id, developerPrincipalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
    principalId: developerPrincipalId
    scope: '${account.id}/dbs/${databaseName}'
  }
}

@description('Account endpoint, https://<name>.documents.azure.com:443/ (COSMOS_ENDPOINT).')
output endpoint string = account.properties.documentEndpoint

@description('Database name (COSMOS_DATABASE).')
output databaseName string = database.name

@description('Container of the agent definitions (AGENTS_COSMOS_CONTAINER).')
output agentDefinitionsContainerName string = agentDefinitionsContainer.name
