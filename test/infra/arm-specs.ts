/**
 * What infra/ was checked against, so that a version bump or a new resource type fails the test until
 * it is checked again.
 *
 * SPECS: every resource type and API version in infra/, the azure-rest-api-specs file that defines that
 * version (its existence is what proves the version exists), and the properties the spec marks as
 * required on create (PUT body), as dotted paths inside the Bicep resource body. `definitionsRead` says
 * whether the `required` lists of the spec's definitions were read for that entry; where it is false,
 * only the version's file was confirmed and `required` holds what the ARM common types require
 * (TrackedResource: location) plus what the resource's create example sets.
 *
 * BUILT_IN_ROLES: every built-in role definition id infra/ names, with the Microsoft-maintained source
 * that gives the same id for the same name.
 */

export interface SpecCheck {
  readonly type: string;
  readonly apiVersion: string;
  /** Path in Azure/azure-rest-api-specs. */
  readonly spec: string;
  /** Dotted paths in the resource body; `[]` marks an array whose items carry the rest. */
  readonly required: readonly string[];
  readonly definitionsRead: boolean;
  readonly note?: string;
}

const S = 'specification';

export const SPECS: readonly SpecCheck[] = [
  {
    type: 'Microsoft.Resources/resourceGroups',
    apiVersion: '2024-03-01',
    spec: `${S}/resources/resource-manager/Microsoft.Resources/stable/2024-03-01/resources.json`,
    required: ['location'],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
    apiVersion: '2024-11-30',
    spec: `${S}/msi/resource-manager/Microsoft.ManagedIdentity/stable/2024-11-30/ManagedIdentity.json`,
    // Identity: allOf TrackedResource (common-types v4), which requires location.
    required: ['location'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.OperationalInsights/workspaces',
    apiVersion: '2023-09-01',
    spec: `${S}/operationalinsights/resource-manager/Microsoft.OperationalInsights/OperationalInsights/stable/2023-09-01/Workspaces.json`,
    required: ['location'],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.Insights/workbooks',
    apiVersion: '2023-06-01',
    spec: `${S}/applicationinsights/resource-manager/Microsoft.Insights/stable/2023-06-01/workbooks_API.json`,
    // WorkbookProperties requires displayName, category and serializedData; the tracked resource, location.
    required: ['location', 'properties.displayName', 'properties.category', 'properties.serializedData'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.Insights/components',
    apiVersion: '2020-02-02',
    spec: `${S}/applicationinsights/resource-manager/Microsoft.Insights/stable/2020-02-02/components_API.json`,
    // ComponentsResource: location; ApplicationInsightsComponent: kind; properties: Application_Type.
    // WorkspaceResourceId: "required to create an application with this API version" (its description).
    required: ['location', 'kind', 'properties.Application_Type', 'properties.WorkspaceResourceId'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.Storage/storageAccounts',
    apiVersion: '2024-01-01',
    spec: `${S}/storage/resource-manager/Microsoft.Storage/stable/2024-01-01/storage.json`,
    // NetworkRuleSet requires defaultAction (read); StorageAccountCreateParameters: sku, kind, location.
    required: ['location', 'sku.name', 'kind', 'properties.networkAcls.defaultAction'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.Storage/storageAccounts/blobServices',
    apiVersion: '2024-01-01',
    spec: `${S}/storage/resource-manager/Microsoft.Storage/stable/2024-01-01/blob.json`,
    required: [],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.Storage/storageAccounts/blobServices/containers',
    apiVersion: '2024-01-01',
    spec: `${S}/storage/resource-manager/Microsoft.Storage/stable/2024-01-01/blob.json`,
    required: [],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.KeyVault/vaults',
    apiVersion: '2024-11-01',
    spec: `${S}/keyvault/resource-manager/Microsoft.KeyVault/stable/2024-11-01/keyvault.json`,
    // VaultCreateOrUpdateParameters: location, properties; VaultProperties: tenantId, sku.
    required: ['location', 'properties.tenantId', 'properties.sku.family', 'properties.sku.name'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.KeyVault/vaults/secrets',
    apiVersion: '2024-11-01',
    spec: `${S}/keyvault/resource-manager/Microsoft.KeyVault/stable/2024-11-01/secrets.json`,
    // SecretCreateOrUpdateParameters: properties (SecretProperties marks nothing required).
    required: ['properties'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.Cache/redisEnterprise',
    apiVersion: '2025-07-01',
    spec: `${S}/redisenterprise/resource-manager/Microsoft.Cache/RedisEnterprise/stable/2025-07-01/redisenterprise.json`,
    // Cluster: sku (Sku: name); ClusterCreateProperties: publicNetworkAccess.
    required: ['location', 'sku.name', 'properties.publicNetworkAccess'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.Cache/redisEnterprise/databases',
    apiVersion: '2025-07-01',
    spec: `${S}/redisenterprise/resource-manager/Microsoft.Cache/RedisEnterprise/stable/2025-07-01/redisenterprise.json`,
    required: [],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments',
    apiVersion: '2025-07-01',
    spec: `${S}/redisenterprise/resource-manager/Microsoft.Cache/RedisEnterprise/stable/2025-07-01/redisenterprise.json`,
    // AccessPolicyAssignmentProperties: user, accessPolicyName; name pattern ^[A-Za-z0-9]{1,60}$.
    required: ['properties.accessPolicyName', 'properties.user.objectId'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.DocumentDB/databaseAccounts',
    apiVersion: '2024-11-15',
    spec: `${S}/cosmos-db/resource-manager/Microsoft.DocumentDB/stable/2024-11-15/cosmos-db.json`,
    // DatabaseAccountCreateUpdateParameters: properties; its properties: locations, databaseAccountOfferType;
    // ConsistencyPolicy (optional, set here): defaultConsistencyLevel.
    required: ['properties.locations', 'properties.databaseAccountOfferType', 'properties.consistencyPolicy.defaultConsistencyLevel'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases',
    apiVersion: '2024-11-15',
    spec: `${S}/cosmos-db/resource-manager/Microsoft.DocumentDB/stable/2024-11-15/cosmos-db.json`,
    // SqlDatabaseResource: id.
    required: ['properties.resource.id'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers',
    apiVersion: '2024-11-15',
    spec: `${S}/cosmos-db/resource-manager/Microsoft.DocumentDB/stable/2024-11-15/cosmos-db.json`,
    // SqlContainerResource: id (the partition key is optional in the spec, required in practice).
    required: ['properties.resource.id', 'properties.resource.partitionKey.paths'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments',
    apiVersion: '2024-11-15',
    spec: `${S}/cosmos-db/resource-manager/Microsoft.DocumentDB/stable/2024-11-15/rbac.json`,
    // SqlRoleAssignmentResource marks nothing required; an assignment without these three means nothing.
    required: ['properties.roleDefinitionId', 'properties.principalId', 'properties.scope'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.CognitiveServices/accounts',
    apiVersion: '2025-06-01',
    spec: `${S}/cognitiveservices/resource-manager/Microsoft.CognitiveServices/stable/2025-06-01/cognitiveservices.json`,
    required: ['location'],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.CognitiveServices/accounts/deployments',
    apiVersion: '2025-06-01',
    spec: `${S}/cognitiveservices/resource-manager/Microsoft.CognitiveServices/stable/2025-06-01/cognitiveservices.json`,
    required: ['properties.model.name', 'properties.model.format', 'sku.name'],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.Communication/communicationServices',
    apiVersion: '2025-05-01',
    spec: `${S}/communication/resource-manager/Microsoft.Communication/stable/2025-05-01/openapi.json`,
    // TrackedResource: location; CommunicationServiceProperties: dataLocation.
    required: ['location', 'properties.dataLocation'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.SignalRService/webPubSub',
    apiVersion: '2024-03-01',
    spec: `${S}/webpubsub/resource-manager/Microsoft.SignalRService/stable/2024-03-01/webpubsub.json`,
    required: ['location', 'sku.name'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.SignalRService/webPubSub/hubs',
    apiVersion: '2024-03-01',
    spec: `${S}/webpubsub/resource-manager/Microsoft.SignalRService/stable/2024-03-01/webpubsub.json`,
    // WebPubSubHub: properties.
    required: ['properties'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.Authorization/roleAssignments',
    apiVersion: '2022-04-01',
    spec: `${S}/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json`,
    // RoleAssignmentCreateParameters: properties; RoleAssignmentProperties: roleDefinitionId, principalId.
    required: ['properties.roleDefinitionId', 'properties.principalId'],
    definitionsRead: true,
  },
  {
    type: 'Microsoft.Web/serverfarms',
    apiVersion: '2024-04-01',
    spec: `${S}/web/resource-manager/Microsoft.Web/stable/2024-04-01/AppServicePlans.json`,
    required: ['location'],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.Web/sites',
    apiVersion: '2024-04-01',
    spec: `${S}/web/resource-manager/Microsoft.Web/stable/2024-04-01/WebApps.json`,
    required: ['location'],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.Web/sites/basicPublishingCredentialsPolicies',
    apiVersion: '2024-04-01',
    spec: `${S}/web/resource-manager/Microsoft.Web/stable/2024-04-01/WebApps.json`,
    required: ['properties.allow'],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.Web/sites/config',
    apiVersion: '2024-04-01',
    spec: `${S}/web/resource-manager/Microsoft.Web/stable/2024-04-01/WebApps.json`,
    required: [],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.EventGrid/systemTopics',
    apiVersion: '2025-02-15',
    spec: `${S}/eventgrid/resource-manager/Microsoft.EventGrid/stable/2025-02-15/EventGrid.json`,
    required: ['location'],
    definitionsRead: false,
  },
  {
    type: 'Microsoft.EventGrid/systemTopics/eventSubscriptions',
    apiVersion: '2025-02-15',
    spec: `${S}/eventgrid/resource-manager/Microsoft.EventGrid/stable/2025-02-15/EventGrid.json`,
    required: ['properties.destination.endpointType'],
    definitionsRead: false,
  },
];

export interface BuiltInRole {
  readonly name: string;
  readonly id: string;
  /** Azure/bicep-registry-modules file (Azure Verified Modules) mapping this name to this id. */
  readonly source: string;
}

const AVM = 'Azure/bicep-registry-modules@9f9ea1a avm/res';

/** Also listed on https://learn.microsoft.com/azure/role-based-access-control/built-in-roles. */
export const BUILT_IN_ROLES: readonly BuiltInRole[] = [
  { name: 'Storage Blob Data Owner', id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', source: `${AVM}/storage/storage-account/main.bicep` },
  { name: 'Storage Queue Data Contributor', id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88', source: `${AVM}/storage/storage-account/main.bicep` },
  { name: 'Storage Table Data Contributor', id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', source: `${AVM}/storage/storage-account/main.bicep` },
  { name: 'Monitoring Metrics Publisher', id: '3913510d-42f4-4e42-8a64-420c390055eb', source: `${AVM}/insights/component/main.bicep` },
  { name: 'Web PubSub Service Owner', id: '12cf5a90-567b-43ae-8102-96cf46c7d9b4', source: `${AVM}/signal-r-service/web-pub-sub/main.bicep` },
  { name: 'Contributor', id: 'b24988ac-6180-42a0-ab88-20f7382dd24c', source: `${AVM}/communication/communication-service/main.bicep` },
  { name: 'Cognitive Services OpenAI User', id: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd', source: `${AVM}/cognitive-services/account/main.bicep` },
  { name: 'Cognitive Services User', id: 'a97b65f3-24c7-4388-baec-2e87135dc908', source: `${AVM}/cognitive-services/account/main.bicep` },
  { name: 'Key Vault Secrets User', id: '4633458b-17de-408a-b874-0445c86b69e6', source: `${AVM}/key-vault/vault/main.bicep` },
  { name: 'Key Vault Secrets Officer', id: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7', source: `${AVM}/key-vault/vault/main.bicep` },
];

/** Cosmos DB data-plane roles are defined per account (sqlRoleDefinitions), with fixed well-known ids. */
export const COSMOS_BUILT_IN_ROLES: readonly BuiltInRole[] = [
  {
    name: 'Cosmos DB Built-in Data Contributor',
    id: '00000000-0000-0000-0000-000000000002',
    source: 'Azure/bicep-registry-modules@9f9ea1a avm/ptn/ai-ml/ai-foundry/main.json',
  },
];
