import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentInput, CallerProfile, Turn } from '../../src/lib/agent/types.js';
import { AgentDefinitionError } from '../../src/lib/agents/errors.js';
import { loadAgentCatalog, parseAgentCatalog } from '../../src/lib/agents/loader.js';
import { ScenarioResponder } from '../../src/lib/agents/offline-responder.js';
import { AgentPrompts, toolRules } from '../../src/lib/agents/prompts.js';
import { jsonSchemas } from '../../src/lib/agents/schema.js';
import { ToolRunner } from '../../src/lib/agents/tools.js';
import { builtInResponder, greetingPrompt } from '../../src/lib/agents/built-in.js';
import { consoleLogger } from '../../src/lib/telemetry/logger.js';

const AGENTS_DIR = path.resolve(import.meta.dirname, '../../agents');
const TRANSFER = '+15550100999';
const logger = consoleLogger('error');
const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});

function responderFor(catalog: Awaited<ReturnType<typeof loadAgentCatalog>>, lookupProfile?: (id: string) => Promise<CallerProfile | undefined>) {
  return new ScenarioResponder({ catalog, tools: new ToolRunner({ logger, lookupProfile }) });
}

describe('the support line as a definition', () => {
  it('gives the model the system prompt the support line has always had, with the shared tool rules', async () => {
    // Prepare
    const catalog = await loadAgentCatalog(AGENTS_DIR, { settings: { CLAIMS_API_URL: 'http://127.0.0.1:1' } });
    const support = catalog.scenarioFor('+15550100000');
    const prompts = new AgentPrompts(support.agents.get('support')!, support.scenario);
    const persona = [
      'You are the friendly phone assistant of Contoso, speaking with a caller on a phone line.',
      'Your words are read aloud by text-to-speech: answer in one to three short sentences, no lists, no markdown, no emojis, no URLs.',
      'Ask one question at a time. If you did not understand, ask the caller to rephrase.',
      'You can help with opening hours (weekdays 8 am to 8 pm, Saturdays 9 am to 5 pm), order status, billing questions and address changes. Never invent order or account details; offer a human for anything you cannot resolve.',
      'When the caller says goodbye or has nothing else, say a short goodbye and call end_call.',
    ];
    // Act
    const full = prompts.systemPrompt({ context: { callerName: 'Alex', direction: 'inbound', phone: '+15550100123', _activeAgent: 'support' }, canTransfer: true, canLookUpProfile: true });
    const bare = prompts.systemPrompt({ context: {}, canTransfer: false, canLookUpProfile: false });
    // Assess
    expect(full).toBe(
      [...persona, ...toolRules({ canTransfer: true, canLookUpProfile: true }), '', 'About this call:', '- callerName: Alex', '- direction: inbound', '- phone: +1•••••••123'].join('\n'),
    );
    expect(toolRules({ canTransfer: true, canLookUpProfile: true })).toEqual([
      'When the caller asks for a human, an agent or a representative, or is upset, say that you will connect them and call transfer_to_human.',
      "Call lookup_profile once if knowing the caller (their name, their last call) would help you; don't mention the tool.",
    ]);
    expect(bare).toBe([...persona, 'No human agents are available on this line; if asked, apologise and keep helping.'].join('\n'));
  });

  it('is the built-in agent too: the same answers as the folder the app loads', async () => {
    // Prepare
    const catalog = await loadAgentCatalog(AGENTS_DIR, { settings: { TRANSFER_TARGET_NUMBER: TRANSFER, CLAIMS_API_URL: 'http://127.0.0.1:1' } });
    const fromFolder = responderFor(catalog);
    const builtIn = builtInResponder({ transferTargetNumber: TRANSFER, logger });
    const history: Turn[] = [];
    for (const userText of ['', 'Hi, what are your opening hours?', 'blue elephants', 'I would like to speak to a human, please.']) {
      const input: AgentInput = { callId: 'c1', history: [...history], userText, context: {} };
      // Act
      const [folder, packaged] = await Promise.all([fromFolder.respond(input), builtIn.respond(input)]);
      // Assess
      expect({ text: packaged.text, tools: packaged.toolCalls }).toEqual({ text: folder.text, tools: folder.toolCalls });
      history.push({ role: 'user', text: userText }, { role: 'assistant', text: folder.text });
    }
    expect(greetingPrompt()).toBe("Hello, thanks for calling Contoso. I'm your virtual assistant. How can I help you today?");
  });
});

describe('a new agent from files alone', () => {
  it('loads from a temporary folder and answers from its knowledge, with no TypeScript', async () => {
    // Prepare
    const dir = await mkdtemp(path.join(tmpdir(), 'agents-'));
    temps.push(dir);
    await mkdir(path.join(dir, 'bakery'));
    await writeFile(path.join(dir, 'routing.yaml'), 'default: bakery\n');
    await writeFile(path.join(dir, 'bakery', 'scenario.yaml'), 'name: bakery\ncompany: Crumbs\nentry: baker\nagents: [baker]\n');
    await writeFile(path.join(dir, 'bakery', 'baker.agent.yaml'), BAKER);
    // Act
    const catalog = await loadAgentCatalog(dir, { settings: {} });
    const responder = responderFor(catalog);
    const greeting = await responder.respond({ callId: 'c1', history: [], userText: '', context: {} });
    const answer = await responder.respond({ callId: 'c1', history: [{ role: 'assistant', text: greeting.text }], userText: 'Do you have sourdough today?', context: {} });
    const bye = await responder.respond({ callId: 'c1', history: [], userText: 'ok bye', context: {} });
    // Assess
    expect(greeting.text).toBe('Crumbs bakery, good morning!');
    expect(answer.text).toBe('Sourdough: Baked fresh every morning until it runs out.');
    expect(bye.toolCalls.map((t) => t.name)).toEqual(['end_call']);
    expect(bye.text).toBe('Bye from Crumbs.');
  });
});

describe('a keypad menu', () => {
  it('answers a key with its knowledge, transfer or goodbye, and repeats the menu for other keys', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'agents-'));
    temps.push(dir);
    await mkdir(path.join(dir, 'bakery'));
    await writeFile(path.join(dir, 'routing.yaml'), 'default: bakery\n');
    await writeFile(path.join(dir, 'bakery', 'scenario.yaml'), 'name: bakery\ncompany: Crumbs\nentry: baker\nagents: [baker]\ntransfer: { setting: DESK }\n');
    const menu = "dtmf:\n  main:\n    prompt: Press 1 for sourdough, 0 for a person, 9 to hang up.\n    options:\n      '1': { knowledge: sourdough }\n      '0': { tool: transfer_to_human }\n      '9': { tool: end_call, say: Bye now. }\n";
    await writeFile(path.join(dir, 'bakery', 'baker.agent.yaml'), BAKER.replace('tools: [end_call]', 'tools: [end_call, transfer_to_human]\n' + menu));
    const responder = responderFor(await loadAgentCatalog(dir, { settings: { DESK: '+15550100888' } }));
    const press = (tones: string) => responder.respond({ callId: 'c1', history: [{ role: 'assistant', text: 'hi' }], userText: tones, context: {} });
    expect((await press('one')).text).toBe('Sourdough: Baked fresh every morning until it runs out.');
    expect((await press('zero')).toolCalls).toEqual([expect.objectContaining({ name: 'transfer_to_human', targetNumber: '+15550100888' })]);
    expect(await press('nine')).toMatchObject({ text: 'Bye now.', toolCalls: [expect.objectContaining({ name: 'end_call' })] });
    expect((await press('five')).text).toBe('Press 1 for sourdough, 0 for a person, 9 to hang up.');
  });
});

describe('definition errors', () => {
  it('name the file, line and field of every problem at once', () => {
    const files = [
      { path: 'routing.yaml', text: 'default: nowhere\n' },
      { path: 'bakery/scenario.yaml', text: 'name: bakery\ncompany: Crumbs\nentry: chef\nagents: [baker]\nhandoffs:\n  - from: baker\n    to: ghost\n    mode: discreet\n' },
      { path: 'bakery/baker.agent.yaml', text: BAKER.replace('  goodbye: Bye from {company}.\n', '').replace("patterns: ['sourdough']", "patterns: ['(unclosed']").replace('tools: [end_call]', 'tools: [end_call, {name: prices, kind: http, description: d, url: "${PRICES_URL}/p"}]') },
    ];
    let error: unknown;
    try {
      parseAgentCatalog(files, { settings: {} });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AgentDefinitionError);
    const problems = (error as AgentDefinitionError).problems.map((p) => `${p.file}:${p.line} ${p.field}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'routing.yaml:1 default: no scenario "nowhere" (folders: bakery)',
        'bakery/scenario.yaml:3 entry: "chef" is not one of the scenario\'s agents',
        'bakery/scenario.yaml:7 handoffs.0.to: "ghost" is not one of the scenario\'s agents',
        expect.stringMatching(/^bakery\/baker\.agent\.yaml:\d+ prompts\.goodbye: Invalid input/),
        'bakery/baker.agent.yaml:21 knowledge.0.patterns.0: not a valid regular expression',
      ]),
    );
    expect((error as Error).message).toContain('bakery/scenario.yaml:3:8 entry');
  });

  it('leave out a scenario whose HTTP tool needs a setting this deployment lacks, naming where', () => {
    const files = [
      { path: 'routing.yaml', text: 'default: support\nroutes:\n  - { number: "+15550100300", scenario: bakery }\n' },
      { path: 'support/scenario.yaml', text: 'name: support\ncompany: Crumbs\nentry: baker\nagents: [baker]\n' },
      { path: 'support/baker.agent.yaml', text: BAKER },
      { path: 'bakery/scenario.yaml', text: 'name: bakery\ncompany: Crumbs\nentry: baker\nagents: [baker]\n' },
      { path: 'bakery/baker.agent.yaml', text: BAKER.replace('tools: [end_call]', 'tools:\n  - end_call\n  - {name: prices, kind: http, description: d, url: "${PRICES_URL}/p"}') },
    ];
    const catalog = parseAgentCatalog(files, { settings: {} });
    expect([...catalog.scenarios.keys()]).toEqual(['support']);
    expect(catalog.unavailable).toEqual([expect.objectContaining({ file: 'bakery/baker.agent.yaml', line: 19, field: 'tools.1.url', message: 'setting PRICES_URL is not set' })]);
    expect(catalog.scenarioFor('+15550100300').scenario.name).toBe('support');
    expect(parseAgentCatalog(files, { settings: { PRICES_URL: 'http://p.example' } }).scenarioFor('+15550100300').scenario.name).toBe('bakery');
  });

  it('refuse to start when the default scenario lacks a setting', () => {
    const files = [
      { path: 'routing.yaml', text: 'default: bakery\n' },
      { path: 'bakery/scenario.yaml', text: 'name: bakery\ncompany: Crumbs\nentry: baker\nagents: [baker]\n' },
      { path: 'bakery/baker.agent.yaml', text: BAKER.replace('tools: [end_call]', 'tools:\n  - end_call\n  - {name: prices, kind: http, description: d, url: "${PRICES_URL}/p"}') },
    ];
    expect(() => parseAgentCatalog(files, { settings: {} })).toThrow(/bakery\/baker\.agent\.yaml:\d+:\d+ tools\.1\.url: setting PRICES_URL is not set/);
    expect(parseAgentCatalog(files, { settings: { PRICES_URL: 'http://prices.example' } }).scenarioFor().agents.get('baker')!.tools[1]).toMatchObject({ url: 'http://prices.example/p' });
  });

  it('YAML syntax errors come with their line', () => {
    const files = [{ path: 'routing.yaml', text: 'default: [unclosed\n' }];
    expect(() => parseAgentCatalog(files)).toThrow(/routing\.yaml:\d+:\d+/);
  });
});

describe('routing and schemas', () => {
  it('routes a called number to its scenario and anything else to the default', async () => {
    const catalog = await loadAgentCatalog(AGENTS_DIR, { settings: { CLAIMS_API_URL: 'http://127.0.0.1:1' } });
    expect(catalog.scenarioFor('+15550100000').scenario.name).toBe('support');
    expect(catalog.scenarioFor('+19999999999').scenario.name).toBe(catalog.routing.default);
    expect(catalog.scenarioFor(undefined).scenario.name).toBe(catalog.routing.default);
  });

  it('the committed JSON Schemas are the ones the code exports', async () => {
    const schemas = jsonSchemas();
    for (const kind of ['agent', 'scenario', 'routing'] as const) {
      const committed = JSON.parse(await readFile(path.join(AGENTS_DIR, 'schema', `${kind}.schema.json`), 'utf8')) as unknown;
      expect(committed, `agents/schema/${kind}.schema.json is stale: npm run agents:schema`).toEqual(schemas[kind]);
    }
  });
});

const BAKER = `name: baker
persona: You answer the phone of {company}, a bakery.
instructions: [Keep it short.]
greeting:
  new: "{company} bakery, good morning!"
  returning: Welcome back to {company}!
  returningNamed: Welcome back, {displayName}!
prompts:
  reprompt: [Sorry?]
  hold: One moment.
  goodbye: Bye from {company}.
  silenceGoodbye: Bye.
  failure: Sorry, bye.
  transferFailed: Sorry, no one can take it.
  transferUnavailable: No one is here.
  notUnderstood: Sorry?
tools: [end_call]
knowledge:
  - id: sourdough
    label: Sourdough
    answer: Baked fresh every morning until it runs out.
    patterns: ['sourdough']
offline:
  intents:
    goodbye: ['\\bbye\\b']
  answer: "{label}: {answer}"
  thanks: Any time.
  hello: Hello!
  fallback: 'Sorry, "{heard}"?'
`;
