import type { TokenCredential } from '@azure/identity';

/**
 * The app's Microsoft Entra ID identity, handed to every client factory that may need it (Redis,
 * Cosmos DB, ACS, Web PubSub, Azure OpenAI). A source rather than a credential: `@azure/identity`
 * (MSAL) is heavy and the key paths of local runs never load it, so it is created on first use.
 */
export type CredentialSource = () => Promise<TokenCredential>;

/** A credential given as is (tests, tools signed in as someone) or as a source. */
export type CredentialInput = TokenCredential | CredentialSource;

export function resolveCredential(input: CredentialInput): Promise<TokenCredential> {
  return typeof input === 'function' ? input() : Promise.resolve(input);
}

/**
 * The one `DefaultAzureCredential` of an app: its managed identity in Azure (`AZURE_CLIENT_ID` names a
 * user-assigned one), a developer's sign-in locally. Created once, on first use; a failed creation is
 * forgotten so the next use tries again.
 */
export function appCredential(managedIdentityClientId: string | undefined): CredentialSource {
  let credential: Promise<TokenCredential> | undefined;
  return () => {
    credential ??= import('@azure/identity')
      .then(({ DefaultAzureCredential }) => new DefaultAzureCredential(managedIdentityClientId ? { managedIdentityClientId } : {}))
      .catch((error: unknown) => {
        credential = undefined;
        throw error;
      });
    return credential;
  };
}

/** Bearer tokens of `scope` (refreshed ahead of expiry by `getBearerTokenProvider`), from the app's credential. */
export function bearerTokens(credential: CredentialSource, scope: string): () => Promise<string> {
  let provider: Promise<() => Promise<string>> | undefined;
  return async () => {
    provider ??= Promise.all([import('@azure/identity'), credential()])
      .then(([{ getBearerTokenProvider }, resolved]) => getBearerTokenProvider(resolved, scope))
      .catch((error: unknown) => {
        provider = undefined;
        throw error;
      });
    return (await provider)();
  };
}
