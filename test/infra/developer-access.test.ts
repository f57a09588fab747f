import { describe, expect, it } from 'vitest';
import { declarations, tokenize } from './bicep-text.js';
import { read } from './settings-sources.js';

/**
 * Developer access (a principalId granted data-plane roles so `func start` can run against a deployed
 * environment) is off unless asked for, and never in production.
 */

const main = read('infra/main.bicep');
const developer = read('infra/modules/developer-access.bicep');
const app = read('infra/modules/role-assignments.bicep');

function roleIdsOf(text: string): Set<string> {
  return new Set([...text.matchAll(/^\s+\w+: '([0-9a-f-]{36})'$/gm)].map((m) => m[1]!));
}

describe('developer access in infra/', () => {
  it('is off by default and cannot be switched on where APP_ENV is prod', () => {
    expect(main).toMatch(/param grantDeveloperAccess bool = false/);
    expect(main).toMatch(/param appEnv string = 'prod'/);
    expect(main).toContain("var developerPrincipalId = grantDeveloperAccess && appEnv != 'prod' ? principalId : ''");
    const params = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: string }> };
    expect(params.parameters.grantDeveloperAccess?.value).toBe('${GRANT_DEVELOPER_ACCESS=false}');
    expect(params.parameters.principalId?.value).toBe('${AZURE_PRINCIPAL_ID=}');
    expect(params.parameters.appEnv?.value).toBe('${APP_ENV=prod}');
  });

  it('deploys every developer grant only when there is a developer principal', () => {
    expect(main).toMatch(/module developerAccess 'modules\/developer-access\.bicep' = if \(!empty\(developerPrincipalId\)\)/);
    expect((main.match(/developerPrincipalId: developerPrincipalId/g) ?? []).length).toBe(2);
    for (const path of ['infra/modules/cosmos.bicep', 'infra/modules/redis.bicep']) {
      const text = read(path);
      const decls = declarations(tokenize(text)).filter((d) => d.kind === 'resource' && /developer/i.test(d.name));
      expect(decls.length, path).toBe(1);
      expect(text).toMatch(/= if \(!empty\(developerPrincipalId\)\) \{/);
    }
    // Every assignment in the module names the developer, with the principal type given.
    const assignments = developer.match(/roleAssignments@2022-04-01/g) ?? [];
    expect(assignments.length).toBeGreaterThanOrEqual(6);
    expect((developer.match(/principalType: principalType/g) ?? []).length).toBe(assignments.length);
    expect(developer).not.toMatch(/principalType: 'ServicePrincipal'/);
  });

  it('grants the developer the roles the app itself runs with, and nothing it does not use', () => {
    const appRoles = roleIdsOf(app);
    const developerRoles = roleIdsOf(developer);
    // Cognitive Services User is ACS's own role for speech; the developer needs it to call Speech directly.
    expect([...appRoles].filter((id) => !developerRoles.has(id))).toEqual([]);
    expect([...developerRoles].filter((id) => !appRoles.has(id))).toEqual([]);
  });
});
