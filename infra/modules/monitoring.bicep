// Log Analytics + workspace-based Application Insights; ingestion only with Entra ID (local auth off).

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param appInsightsName string

@description('Region of both resources.')
param location string

@description('Tags applied to both resources.')
param tags object

@minValue(30)
@maxValue(730)
@description('Days Log Analytics keeps data.')
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    // Telemetry is accepted only with an Entra token (the app identity holds Monitoring Metrics Publisher).
    DisableLocalAuth: true
  }
}

// The operators' workbook: calls by outcome, slow turns, barge-ins, failures by cause, one call's timeline
// (built from infra/monitoring/operator-queries.kql by infra/monitoring/build-workbook.mjs).
resource operationsWorkbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsights.id, 'rtvoice-operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'rtvoice operations'
    category: 'workbook'
    sourceId: appInsights.id
    serializedData: loadTextContent('../monitoring/operations-workbook.json')
  }
}

@description('Name of the Application Insights component.')
output appInsightsName string = appInsights.name

@description('Connection string (an ingestion address, not a credential: local auth is disabled).')
output appInsightsConnectionString string = appInsights.properties.ConnectionString
