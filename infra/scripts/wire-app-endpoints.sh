#!/bin/sh
# azd postdeploy hook: second provisioning phase.
#
# The Web PubSub system-event handler needs the Functions host's webpubsub_extension system key, and
# the Event Grid subscription needs an incomingCall function that answers the validation handshake.
# Neither exists before the code is deployed, so after the first deployment this script waits for the
# key, sets WIRE_APP_ENDPOINTS=true and provisions again. Later runs see the flag and do nothing
# (`azd provision` alone keeps the wiring, because the flag stays in the azd environment).
set -eu

if [ "$(azd env get-value WIRE_APP_ENDPOINTS 2>/dev/null || true)" = "true" ]; then
  echo "wire-app-endpoints: already wired; nothing to do"
  exit 0
fi

app="${SERVICE_API_NAME:?SERVICE_API_NAME missing: run azd provision first}"
group="${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP missing: run azd provision first}"
url="${SERVICE_API_URI:-}"

# Wake the host so it loads its extensions and writes the extension's system key.
if [ -n "$url" ] && command -v curl >/dev/null 2>&1; then
  curl --silent --output /dev/null --max-time 60 "$url/api/health" || true
fi

if command -v az >/dev/null 2>&1; then
  echo "wire-app-endpoints: waiting for the webpubsub_extension system key of $app"
  attempt=0
  until [ -n "$(az functionapp keys list --resource-group "$group" --name "$app" \
      --query 'systemKeys.webpubsub_extension' --output tsv 2>/dev/null || true)" ]; do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 30 ]; then
      echo "wire-app-endpoints: the key did not appear within 5 minutes. Is a webPubSubTrigger function deployed?" >&2
      echo "Retry with: azd hooks run postdeploy" >&2
      exit 1
    fi
    sleep 10
  done
else
  echo "wire-app-endpoints: Azure CLI not found; giving the host 60 s to start"
  sleep 60
fi

azd env set WIRE_APP_ENDPOINTS true
if ! azd provision --no-prompt; then
  azd env set WIRE_APP_ENDPOINTS false
  echo "wire-app-endpoints: provisioning failed; fix the cause, then: azd hooks run postdeploy" >&2
  exit 1
fi
echo "wire-app-endpoints: Web PubSub handler and IncomingCall subscription now point at $app"
