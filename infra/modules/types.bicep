// Shared parameter types.

@export()
@description('One Azure OpenAI model deployment on the AI services account.')
type modelDeployment = {
  @description('Deployment name the app calls (an AZURE_OPENAI_*_DEPLOYMENT setting).')
  name: string

  @description('Model name, e.g. gpt-4o-mini, gpt-realtime, gpt-4o-mini-tts.')
  model: string

  @description('Model version, e.g. 2024-07-18.')
  version: string

  @description('Deployment SKU, e.g. GlobalStandard or Standard.')
  sku: string

  @minValue(1)
  @description('Capacity in thousands of tokens per minute (or requests for realtime and tts quotas).')
  capacity: int
}
