import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentSettings } from '../../emulators/agent-settings.js';
import { FriendlyError } from '../../emulators/cli-support.js';
import { ConfigError } from '../../src/lib/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'rtvoice-agent-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('the agent settings of npm run dev and the demo', () => {
  const settingsFile = file('local.settings.json', JSON.stringify({ Values: { AGENT_MODE: 'azure-openai', AZURE_OPENAI_ENDPOINT: 'https://file.openai.azure.com', AZURE_OPENAI_CHAT_DEPLOYMENT: 'from-file', REDIS_HOST: 'redis.example', COSMOS_ENDPOINT: 'https://cosmos.example' } }));

  it('takes only the agent settings from local.settings.json; everything else stays local', () => {
    const { settings, mode, sources } = agentSettings({ settingsFile, env: {} });
    expect(mode).toBe('azure-openai');
    expect(settings).toEqual({ AGENT_MODE: 'azure-openai', AZURE_OPENAI_ENDPOINT: 'https://file.openai.azure.com', AZURE_OPENAI_CHAT_DEPLOYMENT: 'from-file' });
    expect(sources).toEqual([settingsFile]);
  });

  it('lets the environment win over the file, and the flags over both', () => {
    expect(agentSettings({ settingsFile, env: { AZURE_OPENAI_CHAT_DEPLOYMENT: 'from-env' } }).settings.AZURE_OPENAI_CHAT_DEPLOYMENT).toBe('from-env');
    expect(agentSettings({ settingsFile, env: {}, offline: true }).mode).toBe('offline');
    expect(agentSettings({ env: { AZURE_OPENAI_ENDPOINT: 'https://env.openai.azure.com' }, settingsFile: file('empty.json', '{"Values":{}}'), azure: true }).settings).toMatchObject({ AGENT_MODE: 'azure-openai', AZURE_OPENAI_ENDPOINT: 'https://env.openai.azure.com' });
  });

  it('is offline without settings, and a missing default local.settings.json is no error', () => {
    const cwd = process.cwd();
    process.chdir(mkdtempSync(join(dir, 'empty-')));
    try {
      expect(agentSettings({ env: {} })).toEqual({ settings: {}, mode: 'offline', sources: [] });
    } finally {
      process.chdir(cwd);
    }
  });

  it('names a missing endpoint as the config errors do, and a broken file in one line', () => {
    const none = file('none.json', '{"Values":{}}');
    expect(() => agentSettings({ settingsFile: none, env: {}, azure: true })).toThrow(ConfigError);
    expect(() => agentSettings({ settingsFile: none, env: {}, azure: true })).toThrow(/AZURE_OPENAI_ENDPOINT: required for the Azure OpenAI agent \(--azure\)/);
    expect(() => agentSettings({ settingsFile: file('broken.json', '{"Values": '), env: {} })).toThrow(FriendlyError);
    expect(() => agentSettings({ settingsFile: file('novalues.json', '{}'), env: {} })).toThrow(/has no "Values" object/);
    expect(() => agentSettings({ settingsFile: join(dir, 'absent.json'), env: {} })).toThrow(/does not exist/);
    expect(() => agentSettings({ env: {}, azure: true, offline: true, settingsFile: none })).toThrow(/exclude each other/);
  });
});
