// Key Vault for the two secrets that cannot be avoided: the HMAC key of the per-call callback signature
// and the salt that keys caller numbers into user ids. RBAC authorization; the app identity may read
// those two secrets and nothing else.

@description('Key Vault name (3-24 letters, digits and dashes).')
param name string

@description('Region of the vault.')
param location string

@description('Tags applied to the vault.')
param tags object

@description('Name of the secret behind ACS_CALLBACK_SIGNING_KEY.')
param callbackSigningKeySecretName string

@secure()
@description('Value written when the secret is created; generated at deployment time by main.bicep.')
param callbackSigningKey string

@description('Create the secret. false on later deployments, so the key is not rotated under calls in flight.')
param createCallbackSigningKey bool

@description('Name of the secret behind USER_ID_SALT.')
param userIdSaltSecretName string

@secure()
@description('Value written when the secret is created; generated at deployment time by main.bicep.')
param userIdSalt string

@description('Create the secret. false on later deployments: a new salt would orphan every existing caller profile.')
param createUserIdSalt bool

@minValue(7)
@maxValue(90)
@description('Days a deleted vault stays recoverable.')
param softDeleteRetentionInDays int = 7

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    publicNetworkAccess: 'Enabled'
  }
}

resource callbackKey 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (createCallbackSigningKey) {
  parent: vault
  name: callbackSigningKeySecretName
  properties: {
    value: callbackSigningKey
    contentType: 'HMAC key of ACS callback URL signatures'
  }
}

resource userIdSaltSecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (createUserIdSalt) {
  parent: vault
  name: userIdSaltSecretName
  properties: {
    value: userIdSalt
    contentType: 'HMAC key of caller numbers into user ids; never rotate'
  }
}

@description('Vault name.')
output name string = vault.name

@description('Vault URI.')
output endpoint string = vault.properties.vaultUri

@description('Versionless secret URI: the app setting follows the latest version.')
output callbackSigningKeySecretUri string = '${vault.properties.vaultUri}secrets/${callbackSigningKeySecretName}'

@description('Versionless URI of the user id salt secret.')
output userIdSaltSecretUri string = '${vault.properties.vaultUri}secrets/${userIdSaltSecretName}'
