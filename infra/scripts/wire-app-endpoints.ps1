# azd postdeploy hook (Windows): second provisioning phase. See wire-app-endpoints.sh for the why.
$ErrorActionPreference = 'Stop'

if ((azd env get-value WIRE_APP_ENDPOINTS 2>$null) -eq 'true') {
  Write-Host 'wire-app-endpoints: already wired; nothing to do'
  exit 0
}

$app = $env:SERVICE_API_NAME
$group = $env:AZURE_RESOURCE_GROUP
if (-not $app -or -not $group) { throw 'SERVICE_API_NAME / AZURE_RESOURCE_GROUP missing: run azd provision first' }

if ($env:SERVICE_API_URI) {
  try { Invoke-WebRequest -Uri "$($env:SERVICE_API_URI)/api/health" -TimeoutSec 60 -UseBasicParsing | Out-Null } catch { }
}

if (Get-Command az -ErrorAction SilentlyContinue) {
  Write-Host "wire-app-endpoints: waiting for the webpubsub_extension system key of $app"
  $key = ''
  for ($attempt = 0; $attempt -lt 30 -and -not $key; $attempt++) {
    $key = az functionapp keys list --resource-group $group --name $app --query 'systemKeys.webpubsub_extension' --output tsv 2>$null
    if (-not $key) { Start-Sleep -Seconds 10 }
  }
  if (-not $key) { throw 'The webpubsub_extension key did not appear within 5 minutes. Is a webPubSubTrigger function deployed? Retry with: azd hooks run postdeploy' }
} else {
  Write-Host 'wire-app-endpoints: Azure CLI not found; giving the host 60 s to start'
  Start-Sleep -Seconds 60
}

azd env set WIRE_APP_ENDPOINTS true
azd provision --no-prompt
if ($LASTEXITCODE -ne 0) {
  azd env set WIRE_APP_ENDPOINTS false
  throw 'wire-app-endpoints: provisioning failed; fix the cause, then: azd hooks run postdeploy'
}
Write-Host "wire-app-endpoints: Web PubSub handler and IncomingCall subscription now point at $app"
